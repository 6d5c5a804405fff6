data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name

  is_fargate = var.compute_type == "FARGATE"
  is_ec2     = !local.is_fargate # EC2 or SPOT

  create_instance_role  = local.is_ec2 && var.instance_role_arn == null
  create_execution_role = local.is_fargate

  # IAM name_prefix is limited to 38 characters.
  short_name = substr(var.name, 0, 24)

  instance_profile_arn = local.is_ec2 ? (local.create_instance_role ? aws_iam_instance_profile.this[0].arn : var.instance_role_arn) : null

  compute_environment_arn = local.is_fargate ? aws_batch_compute_environment.fargate[0].arn : aws_batch_compute_environment.this[0].arn

  image_type = var.image_type != null ? var.image_type : (var.enable_gpu ? "ECS_AL2023_NVIDIA" : "ECS_AL2023")

  # Multi-node parallel jobs need hosts that reach each other: see "Multi-node parallel jobs" below.
  multi_node = anytrue([for jd in values(var.job_definitions) : jd.nodes != null])

  # A job stuck RUNNABLE for one of these reasons is cancelled after var.runnable_timeout
  # seconds, so that it stops blocking the head of the queue. These are the reasons Batch
  # supports jobStateTimeLimitActions for; the others need a person to look.
  runnable_cancel_reasons = [
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
  ]
}

################################################################################
# Container instance role + instance profile (EC2/SPOT, unless given)
################################################################################

data "aws_iam_policy_document" "instance_assume" {
  count = local.create_instance_role ? 1 : 0

  statement {
    sid     = "Ec2AssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  count = local.create_instance_role ? 1 : 0

  name_prefix        = "${local.short_name}-instance-"
  description        = "Container instances of the Batch compute profile ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.instance_assume[0].json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "instance" {
  count = local.create_instance_role ? 1 : 0

  role       = aws_iam_role.instance[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "this" {
  count = local.create_instance_role ? 1 : 0

  name_prefix = "${local.short_name}-instance-"
  role        = aws_iam_role.instance[0].name

  tags = var.tags
}

################################################################################
# Task execution role (FARGATE): pulls images and writes the job logs
################################################################################

data "aws_iam_policy_document" "execution_assume" {
  count = local.create_execution_role ? 1 : 0

  statement {
    sid     = "EcsTasksAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # ECS's advice against the confused deputy: only tasks of this account.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  count = local.create_execution_role ? 1 : 0

  name_prefix        = "${local.short_name}-execution-"
  description        = "Fargate task execution role of the Batch compute profile ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.execution_assume[0].json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  count = local.create_execution_role ? 1 : 0

  role       = aws_iam_role.execution[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

################################################################################
# Launch template (EC2/SPOT): instance metadata settings only, no user data
################################################################################

# Jobs get their credentials from their job role (through the ECS agent), so the
# hosts' instance metadata, and the instance role's credentials with it, stay out of
# the job containers' reach: IMDSv2 only, with a hop limit of 1 (a container on
# Docker's bridge network is one hop further away).
resource "aws_launch_template" "this" {
  count = local.is_ec2 ? 1 : 0

  name_prefix            = "${var.name}-"
  description            = "Hosts of the Batch compute profile ${var.name}: IMDSv2 only, out of the jobs' reach"
  update_default_version = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  tags = var.tags

  lifecycle {
    # Batch tags the instances from compute_resources.tags, so this module manages no
    # tag_specifications. (Ignoring them also avoids a perpetual diff on moto, which
    # copies the template's own tags into its data.)
    ignore_changes = [tag_specifications]
  }
}

################################################################################
# Multi-node parallel jobs (EC2 only): the nodes' network and placement
################################################################################

# Batch gives each node of a multi-node job its own network interface (awsvpc mode) with the
# compute environment's security groups. The nodes talk to each other on ports the job picks
# (MPI, NCCL, ssh), so one more group lets every member reach every other on every port, and
# nothing else. Its VPC is the subnets'.
data "aws_subnet" "this" {
  for_each = local.multi_node ? toset(var.subnet_ids) : toset([])

  id = each.value
}

resource "aws_security_group" "nodes" {
  count = local.multi_node ? 1 : 0

  name_prefix = "${local.short_name}-nodes-"
  description = "Nodes of the multi-node parallel jobs of the Batch compute profile ${var.name}: every port between members"
  vpc_id      = data.aws_subnet.this[var.subnet_ids[0]].vpc_id

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "nodes" {
  count = local.multi_node ? 1 : 0

  description                  = "From the other nodes, every protocol and port"
  security_group_id            = aws_security_group.nodes[0].id
  referenced_security_group_id = aws_security_group.nodes[0].id
  ip_protocol                  = "-1"

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "nodes" {
  count = local.multi_node ? 1 : 0

  description                  = "To the other nodes, every protocol and port"
  security_group_id            = aws_security_group.nodes[0].id
  referenced_security_group_id = aws_security_group.nodes[0].id
  ip_protocol                  = "-1"

  tags = var.tags
}

# A cluster placement group keeps the nodes close together in one Availability Zone, with the
# lowest latency and highest throughput between them (AWS recommends one for multi-node jobs).
resource "aws_placement_group" "this" {
  count = local.multi_node ? 1 : 0

  name     = var.name
  strategy = "cluster"

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(distinct([for subnet in data.aws_subnet.this : subnet.availability_zone])) == 1
      error_message = "A compute profile running multi-node parallel jobs needs subnets in one Availability Zone: its cluster placement group cannot span zones."
    }
  }
}

################################################################################
# Compute environment
################################################################################

resource "aws_batch_compute_environment" "this" {
  count = local.is_ec2 ? 1 : 0

  compute_environment_name_prefix = "${var.name}-"
  type                            = "MANAGED"
  # null: Batch's service-linked role (AWSServiceRoleForBatch).
  service_role = var.service_role_arn

  compute_resources {
    type                = var.compute_type
    allocation_strategy = var.compute_type == "SPOT" ? "SPOT_CAPACITY_OPTIMIZED" : "BEST_FIT_PROGRESSIVE"
    min_vcpus           = var.min_vcpus
    desired_vcpus       = var.desired_vcpus
    max_vcpus           = var.max_vcpus
    instance_type       = var.instance_types
    instance_role       = local.instance_profile_arn
    subnets             = var.subnet_ids
    security_group_ids  = concat(var.security_group_ids, aws_security_group.nodes[*].id)
    placement_group     = local.multi_node ? aws_placement_group.this[0].name : null

    # Static values only: a change replaces the compute environment.
    tags = length(var.tags) > 0 ? var.tags : null

    ec2_configuration {
      image_type = local.image_type
    }

    launch_template {
      launch_template_id = aws_launch_template.this[0].id
      version            = tostring(aws_launch_template.this[0].latest_version)
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
    ignore_changes        = [compute_resources[0].desired_vcpus]

    # Batch never picks up a new launch template version by itself. Planning the
    # replacement up front also avoids the provider's "inconsistent final plan" error
    # when the version is only known during apply (hashicorp/terraform-provider-aws#37440).
    replace_triggered_by = [aws_launch_template.this[count.index].latest_version]

    precondition {
      condition     = !(local.multi_node && var.compute_type == "SPOT")
      error_message = "Batch runs no multi-node parallel jobs on Spot Instances: use compute_type EC2."
    }

    precondition {
      condition     = var.min_vcpus <= var.max_vcpus && (var.desired_vcpus == 0 || (var.min_vcpus <= var.desired_vcpus && var.desired_vcpus <= var.max_vcpus))
      error_message = "Batch needs min_vcpus <= max_vcpus, and min_vcpus <= desired_vcpus <= max_vcpus when desired_vcpus is set (0 lets Batch start at min_vcpus)."
    }
  }

  # The instance role must keep its permissions while Batch creates and deletes the
  # compute environment.
  depends_on = [
    aws_iam_role_policy_attachment.instance,
    aws_iam_instance_profile.this,
  ]
}

# FARGATE compute environment: no instances, so no instance role, type or
# allocation strategy.
resource "aws_batch_compute_environment" "fargate" {
  count = local.is_fargate ? 1 : 0

  compute_environment_name_prefix = "${var.name}-"
  type                            = "MANAGED"
  service_role                    = var.service_role_arn

  compute_resources {
    type               = "FARGATE"
    max_vcpus          = var.max_vcpus
    subnets            = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = !var.enable_gpu
      error_message = "enable_gpu is not supported with compute_type FARGATE (Fargate has no GPUs)."
    }

    precondition {
      condition     = !local.multi_node
      error_message = "Fargate runs no multi-node parallel jobs: use compute_type EC2."
    }
  }
}

################################################################################
# Job queue
################################################################################

resource "aws_batch_job_queue" "this" {
  name     = var.name
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = local.compute_environment_arn
  }

  dynamic "job_state_time_limit_action" {
    for_each = local.runnable_cancel_reasons
    content {
      state            = "RUNNABLE"
      reason           = job_state_time_limit_action.value
      action           = "CANCEL"
      max_time_seconds = var.runnable_timeout
    }
  }

  tags = var.tags
}

################################################################################
# Job definitions (one per function using this compute profile)
################################################################################

locals {
  job_container_properties = {
    for name, jd in var.job_definitions : name => {
      for k, v in {
        # The function's image: its entry point is the supervisor, which runs the job.
        image      = jd.image
        jobRoleArn = jd.job_role_arn

        # Strings, sorted by type: GPU (when requested), MEMORY, VCPU.
        resourceRequirements = concat(
          jd.gpus > 0 ? [{ type = "GPU", value = tostring(jd.gpus) }] : [],
          [
            { type = "MEMORY", value = tostring(jd.memory) },
            { type = "VCPU", value = tostring(jd.vcpus) },
          ],
        )

        # Sorted by name. Batch sets no region in the container: without one, botocore
        # cannot find SSM and S3 falls back to us-east-1.
        environment = [
          for env_name, value in merge(jd.environment, { AWS_REGION = local.region, AWS_DEFAULT_REGION = local.region }) :
          { name = env_name, value = value }
        ]

        # FARGATE
        executionRoleArn             = local.is_fargate ? aws_iam_role.execution[0].arn : null
        networkConfiguration         = local.is_fargate ? { assignPublicIp = "ENABLED" } : null
        fargatePlatformConfiguration = local.is_fargate ? { platformVersion = "LATEST" } : null
        # Fargate runs X86_64 unless the job definition asks for ARM64 (Graviton). Written only
        # for arm64, so x86_64 job definitions stay as they were.
        runtimePlatform = local.is_fargate && var.architecture == "arm64" ? { cpuArchitecture = "ARM64", operatingSystemFamily = "LINUX" } : null
      } : k => v if v != null
    }
  }
}

resource "aws_batch_job_definition" "this" {
  for_each = var.job_definitions

  name                  = each.key
  type                  = each.value.nodes == null ? "container" : "multinode"
  platform_capabilities = [local.is_fargate ? "FARGATE" : "EC2"]
  propagate_tags        = true

  container_properties = each.value.nodes == null ? jsonencode(local.job_container_properties[each.key]) : null

  # A multi-node parallel job: one node range, all nodes, each running the function's image (and
  # so the supervisor) with the same container properties as a single-node job.
  node_properties = each.value.nodes == null ? null : jsonencode({
    mainNode = each.value.nodes.main
    numNodes = each.value.nodes.count
    nodeRangeProperties = [
      { targetNodes = "0:", container = local.job_container_properties[each.key] },
    ]
  })

  # Retry when the host went away (a Spot reclaim: "Host EC2 (instance i-...) terminated."),
  # never when the job itself failed or timed out. Rules match in order, and a failure no
  # rule matches is retried, hence the final catch-all.
  retry_strategy {
    attempts = each.value.retry_attempts

    evaluate_on_exit {
      on_status_reason = "Host EC2*"
      action           = "RETRY"
    }

    evaluate_on_exit {
      on_status_reason = "*"
      action           = "EXIT"
    }
  }

  timeout {
    attempt_duration_seconds = each.value.timeout
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !(local.is_fargate && each.value.gpus > 0)
      error_message = "Job definition ${each.key} requests GPUs, which FARGATE compute profiles do not have."
    }
  }

  depends_on = [aws_iam_role_policy_attachment.execution]
}
