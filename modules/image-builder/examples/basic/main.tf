# The image builder of a deployment whose repositories are named myapp/...,
# pulling Docker Hub images through a mirror. package is the builder zip
# faas-render writes (artifacts/image-builder.zip in a rendered root). Replace
# app.terraform.io/example-org with your registry's host and namespace (see
# VERSIONING.md at the root of the repository).

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
  description = "Path of the builder's deployment package (zip)."
  type        = string
}

module "builder" {
  #checkov:skip=CKV_TF_1:released under semver tags (VERSIONING.md); a registry source cannot name a commit
  source  = "app.terraform.io/example-org/faas-render/aws//modules/image-builder"
  version = "~> 0.1.0"

  function_name     = "myapp-image-builder"
  filename          = var.package
  source_code_hash  = filebase64sha256(var.package)
  repository_prefix = "myapp/"
  artifacts_bucket  = "myapp-artifacts-20261202"

  environment = { FAAS_REGISTRY_MIRROR = "https://mirror.gcr.io" }

  tags = { project = "faas-render-example" }
}

output "builder_function_name" {
  description = "Pass it to the image module as builder_function_name."
  value       = module.builder.function_name
}
