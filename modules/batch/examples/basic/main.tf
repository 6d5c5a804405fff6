# A GPU compute profile (compute environment and job queue) running one job
# definition, with the job's role from the iam module. image is the function's
# image in ECR, pinned by digest, whose entry point is the faas-render supervisor
# (module image builds one). Replace
# app.terraform.io/example-org with your registry's host and namespace (see
# VERSIONING.md at the root of the repository).

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 6.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

variable "subnet_ids" {
  description = "Subnets of the compute environment (with a route to S3)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the compute environment."
  type        = list(string)
}

variable "image" {
  description = "The function's image: ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:..."
  type        = string
}

module "storage" {
  #checkov:skip=CKV_TF_1:released under semver tags (VERSIONING.md); a registry source cannot name a commit
  source  = "app.terraform.io/example-org/faas-render/aws//modules/storage"
  version = "~> 0.1.0"

  buckets = {
    "_artifacts" = { name_prefix = "classify-artifacts-", force_destroy = true }
  }
}

module "iam" {
  #checkov:skip=CKV_TF_1:released under semver tags (VERSIONING.md); a registry source cannot name a commit
  source  = "app.terraform.io/example-org/faas-render/aws//modules/iam"
  version = "~> 0.1.0"

  name             = "classify"
  create_job_role  = true
  artifacts_bucket = module.storage.bucket_names["_artifacts"]
  input_locations  = [{ bucket = "my-bucket", key_prefix = "images" }]
  output_locations = [{ bucket = "my-bucket", key_prefix = "labels" }]
}

module "batch" {
  #checkov:skip=CKV_TF_1:released under semver tags (VERSIONING.md); a registry source cannot name a commit
  source  = "app.terraform.io/example-org/faas-render/aws//modules/batch"
  version = "~> 0.1.0"

  name               = "classify-gpu"
  compute_type       = "EC2"
  max_vcpus          = 8
  instance_types     = ["g4dn"]
  enable_gpu         = true
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids

  job_definitions = {
    classify = {
      image        = var.image
      vcpus        = 4
      memory       = 15000
      gpus         = 1
      job_role_arn = module.iam.job_role_arn
    }
  }
}

output "job_queue_arn" {
  description = "ARN of the job queue to submit classify jobs to."
  value       = module.batch.job_queue_arn
}
