terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.40 added compute_environment_order to aws_batch_job_queue; 6.0 renames
      # the compute environment's name arguments.
      version = ">= 5.40, < 6.0"
    }
  }
}
