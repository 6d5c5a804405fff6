# The roles of one function that reads my-bucket/input and writes my-bucket/output.
# Replace app.terraform.io/example-org with your registry's host and namespace
# (see VERSIONING.md at the root of the repository).

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 6.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

module "iam" {
  #checkov:skip=CKV_TF_1:released under semver tags (VERSIONING.md); a registry source cannot name a commit
  source  = "app.terraform.io/example-org/faas-render/aws//modules/iam"
  version = "~> 0.1.0"

  name             = "thumbnails"
  input_locations  = [{ bucket = "my-bucket", key_prefix = "input" }]
  output_locations = [{ bucket = "my-bucket", key_prefix = "output" }]

  tags = { project = "faas-render-example" }
}

output "lambda_role_arn" {
  description = "ARN of the function's execution role."
  value       = module.iam.lambda_role_arn
}
