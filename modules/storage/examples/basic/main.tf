# A private bucket whose input/ folder triggers an existing Lambda function.
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

variable "function_name" {
  description = "Name of the existing Lambda function to trigger."
  type        = string
}

data "aws_lambda_function" "target" {
  function_name = var.function_name
}

module "storage" {
  #checkov:skip=CKV_TF_1:released under semver tags (VERSIONING.md); a registry source cannot name a commit
  source  = "app.terraform.io/example-org/faas-render/aws//modules/storage"
  version = "~> 0.1.0"

  buckets = {
    data = { name_prefix = "faas-render-example-" }
  }

  notifications = {
    "${var.function_name}/0" = {
      bucket        = "data"
      function_name = var.function_name
      function_arn  = data.aws_lambda_function.target.arn
      filter_prefix = "input/"
    }
  }

  tags = { project = "faas-render-example" }
}

output "bucket" {
  description = "Name of the created bucket."
  value       = module.storage.bucket_names["data"]
}
