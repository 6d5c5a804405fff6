# A failures queue for a deployment with one Batch job queue: failed jobs of that
# queue land in it, and Lambda functions name it as their on-failure destination.
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

variable "job_queue_arn" {
  description = "ARN of the Batch job queue whose failed jobs are kept."
  type        = string
}

module "failures" {
  #checkov:skip=CKV_TF_1:released under semver tags (VERSIONING.md); a registry source cannot name a commit
  source  = "app.terraform.io/example-org/faas-render/aws//modules/failures"
  version = "~> 0.1.0"

  name           = "video-process"
  job_queue_arns = [var.job_queue_arn]

  tags = { project = "faas-render-example" }
}

output "queue_url" {
  description = "URL of the failures queue (`faas failed` reads it)."
  value       = module.failures.queue_url
}
