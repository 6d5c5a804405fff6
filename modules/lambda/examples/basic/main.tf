# One Lambda function behind a REST API, with its role from the iam module.
# package is the zip faas-render builds (artifacts/lambda/NAME.zip in a rendered
# root). Replace app.terraform.io/example-org with your registry's host and
# namespace (see VERSIONING.md at the root of the repository).

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

variable "package" {
  description = "Path of the function's deployment package (zip)."
  type        = string
}

module "iam" {
  #checkov:skip=CKV_TF_1:released under semver tags (VERSIONING.md); a registry source cannot name a commit
  source  = "app.terraform.io/example-org/faas-render/aws//modules/iam"
  version = "~> 0.1.0"

  name             = "hello"
  output_locations = [{ bucket = "my-bucket", key_prefix = "output" }]
}

module "lambda" {
  #checkov:skip=CKV_TF_1:released under semver tags (VERSIONING.md); a registry source cannot name a commit
  source  = "app.terraform.io/example-org/faas-render/aws//modules/lambda"
  version = "~> 0.1.0"

  function_name    = "hello"
  role_arn         = module.iam.lambda_role_arn
  filename         = var.package
  source_code_hash = filebase64sha256(var.package)
  memory_size      = 1024
  timeout          = 300

  environment = {
    GREETING = "Hello"
  }

  api_gateway = {
    name       = "hello"
    stage_name = "scar"
  }

  tags = { project = "faas-render-example" }
}

output "api_url" {
  description = "Invoke URL of the function's REST API."
  value       = module.lambda.api_gateway_url
}
