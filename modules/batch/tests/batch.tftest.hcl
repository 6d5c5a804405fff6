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
  mock_data "aws_subnet" {
    defaults = { vpc_id = "vpc-0123456789abcdef0", availability_zone = "us-east-1a" }
  }
  mock_resource "aws_security_group" {
    defaults = { id = "sg-0fedcba9876543210" }
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
    condition     = aws_batch_compute_environment.this[0].compute_resources[0].ec2_configuration[0].image_type == "ECS_AL2023_NVIDIA"
    error_message = "enable_gpu must select the AL2023 NVIDIA ECS AMI (AWS is retiring the AL2 images)."
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

run "retries_only_lost_hosts" {
  command = plan

  assert {
    condition = (
      aws_batch_job_definition.this["classify"].retry_strategy[0].attempts == 3 &&
      [for r in aws_batch_job_definition.this["classify"].retry_strategy[0].evaluate_on_exit : [r.on_status_reason, upper(r.action)]] == [["Host EC2*", "RETRY"], ["*", "EXIT"]]
    )
    error_message = "Jobs must be tried 3 times by default when their host goes away, and never again when they fail."
  }

  assert {
    condition     = aws_batch_job_definition.this["classify"].timeout[0].attempt_duration_seconds == 86400
    error_message = "Job attempts must time out after a day by default."
  }
}

run "retries_and_timeout_are_settable" {
  command = plan

  variables {
    job_definitions = {
      classify = {
        image          = "python:3.12-alpine"
        vcpus          = 4
        memory         = 15000
        gpus           = 1
        job_role_arn   = null
        retry_attempts = 1
        timeout        = 600
      }
    }
  }

  assert {
    condition     = aws_batch_job_definition.this["classify"].retry_strategy[0].attempts == 1 && aws_batch_job_definition.this["classify"].timeout[0].attempt_duration_seconds == 600
    error_message = "retry_attempts and timeout must reach the job definition."
  }
}

run "retries_and_timeout_within_batch_limits" {
  command = plan

  variables {
    job_definitions = {
      classify = { image = "python:3.12-alpine", vcpus = 1, memory = 1024, job_role_arn = null, retry_attempts = 11, timeout = 30 }
    }
  }

  expect_failures = [var.job_definitions]
}

run "stuck_jobs_are_cancelled" {
  command = plan

  assert {
    condition = [for a in aws_batch_job_queue.this.job_state_time_limit_action : [a.state, a.action, a.max_time_seconds]] == [
      ["RUNNABLE", "CANCEL", 3600],
      ["RUNNABLE", "CANCEL", 3600],
      ["RUNNABLE", "CANCEL", 3600],
    ]
    error_message = "Jobs stuck RUNNABLE must be cancelled after an hour by default."
  }

  assert {
    condition     = toset([for a in aws_batch_job_queue.this.job_state_time_limit_action : a.reason]) == toset(["CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE", "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"])
    error_message = "Every reason Batch can act on must cancel a stuck job."
  }
}

run "runnable_timeout_within_batch_limits" {
  command = plan

  variables {
    runnable_timeout = 300
  }

  expect_failures = [var.runnable_timeout]
}

run "hosts_keep_imds_to_themselves" {
  command = plan

  assert {
    condition = (
      aws_launch_template.this[0].metadata_options[0].http_tokens == "required" &&
      aws_launch_template.this[0].metadata_options[0].http_put_response_hop_limit == 1 &&
      aws_launch_template.this[0].user_data == null
    )
    error_message = "The hosts' launch template must require IMDSv2 with a hop limit of 1, and hold no user data."
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
  command = apply # the job definition's JSON holds the execution role's ARN: known after apply

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
    condition     = length(aws_iam_role.instance) == 0 && length(aws_iam_instance_profile.this) == 0 && length(aws_launch_template.this) == 0
    error_message = "FARGATE needs no instance role and no launch template."
  }

  assert {
    condition     = aws_batch_job_definition.this["report"].platform_capabilities == toset(["FARGATE"])
    error_message = "FARGATE profiles register FARGATE job definitions."
  }

  assert {
    condition     = !can(jsondecode(aws_batch_job_definition.this["report"].container_properties).runtimePlatform)
    error_message = "x86_64 FARGATE job definitions keep Fargate's default platform (no runtimePlatform)."
  }
}

run "fargate_arm64" {
  command = apply

  variables {
    compute_type = "FARGATE"
    enable_gpu   = false
    architecture = "arm64"
    job_definitions = {
      report = { image = "python:3.12-alpine", vcpus = 0.5, memory = 1024, job_role_arn = null }
    }
  }

  assert {
    condition     = jsondecode(aws_batch_job_definition.this["report"].container_properties).runtimePlatform == { cpuArchitecture = "ARM64", operatingSystemFamily = "LINUX" }
    error_message = "arm64 FARGATE job definitions ask Fargate for ARM64 (Graviton)."
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

# A multi-node parallel job (SCAR's batch.multi_node_parallel): one node range running the
# function's image on every node, and hosts that reach each other.
run "multi_node" {
  command = apply

  variables {
    enable_gpu     = false
    instance_types = ["c7i"]
    job_definitions = {
      mpi = {
        image        = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mpi@sha256:0000000000000000000000000000000000000000000000000000000000000000"
        vcpus        = 2
        memory       = 2048
        environment  = { A = "1" }
        job_role_arn = "arn:aws:iam::123456789012:role/mpi-job"
        nodes        = { count = 3, main = 1 }
      }
      single = { image = "python:3.12-alpine", vcpus = 1, memory = 1024, job_role_arn = null }
    }
  }

  assert {
    condition = (
      aws_batch_job_definition.this["mpi"].type == "multinode" &&
      aws_batch_job_definition.this["mpi"].container_properties == null &&
      aws_batch_job_definition.this["single"].type == "container"
    )
    error_message = "A job definition with nodes is a multinode one (no container_properties); the others stay container jobs."
  }

  assert {
    condition = jsondecode(aws_batch_job_definition.this["mpi"].node_properties) == {
      mainNode = 1
      numNodes = 3
      nodeRangeProperties = [{
        targetNodes = "0:"
        container = {
          image                = var.job_definitions.mpi.image
          jobRoleArn           = "arn:aws:iam::123456789012:role/mpi-job"
          resourceRequirements = [{ type = "MEMORY", value = "2048" }, { type = "VCPU", value = "2" }]
          environment = [
            { name = "A", value = "1" },
            { name = "AWS_DEFAULT_REGION", value = "us-east-1" },
            { name = "AWS_REGION", value = "us-east-1" },
          ]
        }
      }]
    }
    error_message = "nodeProperties: numNodes and mainNode as given, one node range for all nodes with the single-node container properties (per-node resources)."
  }

  assert {
    condition = (
      aws_placement_group.this[0].strategy == "cluster" &&
      aws_batch_compute_environment.this[0].compute_resources[0].placement_group == aws_placement_group.this[0].name
    )
    error_message = "The hosts of multi-node jobs belong to a cluster placement group."
  }

  assert {
    condition = (
      aws_security_group.nodes[0].vpc_id == "vpc-0123456789abcdef0" &&
      aws_vpc_security_group_ingress_rule.nodes[0].referenced_security_group_id == aws_security_group.nodes[0].id &&
      aws_vpc_security_group_ingress_rule.nodes[0].ip_protocol == "-1" &&
      aws_vpc_security_group_egress_rule.nodes[0].referenced_security_group_id == aws_security_group.nodes[0].id &&
      aws_vpc_security_group_egress_rule.nodes[0].ip_protocol == "-1"
    )
    error_message = "The nodes' security group must let its members reach each other on every protocol and port, in the subnets' VPC."
  }

  assert {
    condition     = aws_batch_compute_environment.this[0].compute_resources[0].security_group_ids == toset(["sg-0123456789abcdef0", "sg-0fedcba9876543210"])
    error_message = "The compute environment keeps the given security groups and adds the nodes' group."
  }
}

run "single_node_profiles_get_no_node_network" {
  command = plan

  variables {
    job_definitions = {}
  }

  assert {
    condition     = length(aws_security_group.nodes) == 0 && length(aws_placement_group.this) == 0 && aws_batch_compute_environment.this[0].compute_resources[0].placement_group == null
    error_message = "Only profiles with multi-node jobs get the nodes' security group and placement group."
  }
}

run "multi_node_limits" {
  command = plan

  variables {
    job_definitions = {
      mpi = { image = "alpine", vcpus = 1, memory = 1024, job_role_arn = null, nodes = { count = 3, main = 3 } }
    }
  }

  expect_failures = [var.job_definitions]
}

run "multi_node_needs_at_least_two_nodes" {
  command = plan

  variables {
    job_definitions = {
      mpi = { image = "alpine", vcpus = 1, memory = 1024, job_role_arn = null, nodes = { count = 1, main = 0 } }
    }
  }

  expect_failures = [var.job_definitions]
}

run "multi_node_refuses_spot" {
  command = plan

  variables {
    compute_type = "SPOT"
    enable_gpu   = false
    job_definitions = {
      mpi = { image = "alpine", vcpus = 1, memory = 1024, job_role_arn = null, nodes = { count = 2, main = 0 } }
    }
  }

  expect_failures = [aws_batch_compute_environment.this]
}

run "multi_node_refuses_fargate" {
  command = plan

  variables {
    compute_type = "FARGATE"
    enable_gpu   = false
    job_definitions = {
      mpi = { image = "alpine", vcpus = 1, memory = 2048, job_role_arn = null, nodes = { count = 2, main = 0 } }
    }
  }

  expect_failures = [aws_batch_compute_environment.fargate]
}

run "multi_node_subnets_in_one_zone" {
  command = plan

  variables {
    subnet_ids = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    job_definitions = {
      mpi = { image = "alpine", vcpus = 1, memory = 1024, job_role_arn = null, nodes = { count = 2, main = 0 } }
    }
  }

  override_data {
    target = data.aws_subnet.this["subnet-0123456789abcdef1"]
    values = { vpc_id = "vpc-0123456789abcdef0", availability_zone = "us-east-1b" }
  }

  expect_failures = [aws_placement_group.this]
}
