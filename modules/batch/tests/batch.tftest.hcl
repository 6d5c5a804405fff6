# Offline tests of the batch module against a mocked AWS provider:
#   terraform init && terraform test
# Mocked ARNs are fixed where the provider validates them; everything else the
# mock generates.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_iam_instance_profile" {
    defaults = { arn = "arn:aws:iam::123456789012:instance-profile/mock" }
  }
  mock_resource "aws_batch_compute_environment" {
    defaults = { arn = "arn:aws:batch:us-east-1:123456789012:compute-environment/first" }
  }
}

variables {
  name               = "classify-gpu"
  max_vcpus          = 8
  instance_types     = ["g4dn"]
  enable_gpu         = true
  subnet_ids         = ["subnet-0123456789abcdef0"]
  security_group_ids = ["sg-0123456789abcdef0"]
  job_definitions = {
    classify = {
      image        = "123456789012.dkr.ecr.us-east-1.amazonaws.com/plants/classify@sha256:0000000000000000000000000000000000000000000000000000000000000000"
      vcpus        = 4
      memory       = 15000
      gpus         = 1
      environment  = { B = "2", A = "1" }
      job_role_arn = "arn:aws:iam::123456789012:role/classify-job"
    }
  }
}

run "gpu_requirements" {
  command = plan

  assert {
    condition = jsondecode(aws_batch_job_definition.this["classify"].container_properties).resourceRequirements == [
      { type = "GPU", value = "1" },
      { type = "MEMORY", value = "15000" },
      { type = "VCPU", value = "4" },
    ]
    error_message = "GPU, MEMORY and VCPU must be requested as strings, sorted by type."
  }

  assert {
    condition     = aws_batch_compute_environment.this[0].compute_resources[0].ec2_configuration[0].image_type == "ECS_AL2_NVIDIA"
    error_message = "enable_gpu must select the NVIDIA ECS AMI."
  }

  assert {
    condition     = [for e in jsondecode(aws_batch_job_definition.this["classify"].container_properties).environment : e.name] == ["A", "AWS_DEFAULT_REGION", "AWS_REGION", "B"]
    error_message = "The job environment must be sorted by name and carry the region."
  }

  assert {
    condition = (
      jsondecode(aws_batch_job_definition.this["classify"].container_properties).image == var.job_definitions.classify.image &&
      !can(jsondecode(aws_batch_job_definition.this["classify"].container_properties).command) &&
      !can(jsondecode(aws_batch_job_definition.this["classify"].container_properties).volumes)
    )
    error_message = "The job runs its image's entry point: no command and no host volume."
  }

  assert {
    condition     = aws_batch_job_definition.this["classify"].platform_capabilities == toset(["EC2"])
    error_message = "EC2 profiles register EC2 job definitions."
  }
}

run "create" {
  command = apply

  assert {
    condition     = aws_batch_compute_environment.this[0].compute_environment_name_prefix == "classify-gpu-"
    error_message = "The compute environment must be named by prefix so that a replacement can be created first."
  }

  assert {
    condition     = aws_batch_job_queue.this.compute_environment_order[0].compute_environment == aws_batch_compute_environment.this[0].arn
    error_message = "The job queue must use compute_environment_order pointing at the compute environment."
  }
}

# What Terraform does when a change replaces the compute environment (new
# instance types, subnets, ...):
# the queue follows the new environment in place instead of being recreated.
run "replace_compute_environment" {
  command = apply

  plan_options {
    replace = [aws_batch_compute_environment.this[0]]
  }

  override_resource {
    target = aws_batch_compute_environment.this[0]
    values = { arn = "arn:aws:batch:us-east-1:123456789012:compute-environment/second" }
  }

  assert {
    condition     = aws_batch_compute_environment.this[0].arn != run.create.compute_environment_arn
    error_message = "The compute environment was not replaced."
  }

  assert {
    condition     = aws_batch_job_queue.this.compute_environment_order[0].compute_environment == aws_batch_compute_environment.this[0].arn
    error_message = "The job queue must move to the replacement compute environment."
  }

  assert {
    condition     = aws_batch_job_queue.this.arn == run.create.job_queue_arn
    error_message = "The job queue must be updated in place, not recreated."
  }
}

run "fargate" {
  command = plan

  variables {
    compute_type = "FARGATE"
    enable_gpu   = false
    job_definitions = {
      report = { image = "python:3.12-alpine", vcpus = 0.5, memory = 1024, job_role_arn = null }
    }
  }

  assert {
    condition     = length(aws_batch_compute_environment.fargate) == 1 && length(aws_batch_compute_environment.this) == 0
    error_message = "FARGATE uses the fargate compute environment only."
  }

  assert {
    condition     = length(aws_iam_role.instance) == 0 && length(aws_iam_instance_profile.this) == 0
    error_message = "FARGATE needs no instance role."
  }

  assert {
    condition     = aws_batch_job_definition.this["report"].platform_capabilities == toset(["FARGATE"])
    error_message = "FARGATE profiles register FARGATE job definitions."
  }
}

run "fargate_refuses_gpus" {
  command = plan

  variables {
    compute_type = "FARGATE"
    enable_gpu   = true
  }

  expect_failures = [
    aws_batch_compute_environment.fargate,
    aws_batch_job_definition.this,
  ]
}
