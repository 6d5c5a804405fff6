# A Lambda function running its own container image: alpine plus the faas-render
# supervisor and the function's files, assembled in ECR by the builder function.
# builder_package is the builder zip and layers the staged layers faas-render
# writes (artifacts/ in a rendered root). Replace app.terraform.io/example-org
# with your registry's host and namespace (see VERSIONING.md at the root of the
# repository).

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

variable "builder_package" {
  description = "Path of the builder's deployment package (zip)."
  type        = string
}

variable "artifacts_bucket" {
  description = "Bucket holding the staged layers."
  type        = string
}

variable "layers" {
  description = "The staged layers (supervisor, then function), as faas-render writes them."
  type = list(object({
    bucket  = string
    key     = string
    digest  = string
    diff_id = string
    size    = number
    comment = string
  }))
}

module "builder" {
  #checkov:skip=CKV_TF_1:released under semver tags (VERSIONING.md); a registry source cannot name a commit
  source  = "app.terraform.io/example-org/faas-render/aws//modules/image-builder"
  version = "~> 0.1.0"

  function_name     = "hello-image-builder"
  filename          = var.builder_package
  source_code_hash  = filebase64sha256(var.builder_package)
  repository_prefix = "hello/"
  artifacts_bucket  = var.artifacts_bucket
}

module "image" {
  #checkov:skip=CKV_TF_1:released under semver tags (VERSIONING.md); a registry source cannot name a commit
  source  = "app.terraform.io/example-org/faas-render/aws//modules/image"
  version = "~> 0.1.0"

  repository_name       = "hello/hello"
  builder_function_name = module.builder.function_name
  base_image            = "alpine:3.20"
  layers                = var.layers
  entrypoint            = ["/opt/faas-render/bin/faas-supervisor"]
  environment           = { LAMBDA_TASK_ROOT = "/var/task" }
}

output "image_uri" {
  description = "The function's image, pinned by digest."
  value       = module.image.image_uri
}
