data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name

  is_fargate = var.compute_type == "FARGATE"
  is_ec2     = !local.is_fargate # EC2 or SPOT

  create_instance_role  = local.is_ec2 && var.instance_role_arn == null
  create_service_role   = var.service_role_arn == null
  create_execution_role = local.is_fargate

  # IAM name_prefix is limited to 38 characters.
  short_name = substr(var.name, 0, 24)

  instance_profile_arn = local.is_ec2 ? (local.create_instance_role ? aws_iam_instance_profile.this[0].arn : var.instance_role_arn) : null
  service_role_arn     = local.create_service_role ? aws_iam_role.service[0].arn : var.service_role_arn

  compute_environment_arn = local.is_fargate ? aws_batch_compute_environment.fargate[0].arn : aws_batch_compute_environment.this[0].arn

  image_type = var.image_type != null ? var.image_type : (var.enable_gpu ? "ECS_AL2_NVIDIA" : "ECS_AL2023")
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
# Batch service role (unless given)
################################################################################

data "aws_iam_policy_document" "service_assume" {
  count = local.create_service_role ? 1 : 0

  statement {
    sid     = "BatchAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["batch.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "service" {
  count = local.create_service_role ? 1 : 0

  name_prefix        = "${local.short_name}-service-"
  description        = "AWS Batch service role of the compute profile ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.service_assume[0].json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "service" {
  count = local.create_service_role ? 1 : 0

  role       = aws_iam_role.service[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSBatchServiceRole"
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
# Compute environment
################################################################################

resource "aws_batch_compute_environment" "this" {
  count = local.is_ec2 ? 1 : 0

  compute_environment_name_prefix = "${var.name}-"
  type                            = "MANAGED"
  service_role                    = local.service_role_arn

  compute_resources {
    type                = var.compute_type
    allocation_strategy = var.compute_type == "SPOT" ? "SPOT_CAPACITY_OPTIMIZED" : "BEST_FIT_PROGRESSIVE"
    min_vcpus           = var.min_vcpus
    desired_vcpus       = var.desired_vcpus
    max_vcpus           = var.max_vcpus
    instance_type       = var.instance_types
    instance_role       = local.instance_profile_arn
    subnets             = var.subnet_ids
    security_group_ids  = var.security_group_ids

    # Static values only: a change replaces the compute environment.
    tags = length(var.tags) > 0 ? var.tags : null

    ec2_configuration {
      image_type = local.image_type
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
    ignore_changes        = [compute_resources[0].desired_vcpus]

    precondition {
      condition     = var.min_vcpus <= var.max_vcpus && (var.desired_vcpus == 0 || (var.min_vcpus <= var.desired_vcpus && var.desired_vcpus <= var.max_vcpus))
      error_message = "Batch needs min_vcpus <= max_vcpus, and min_vcpus <= desired_vcpus <= max_vcpus when desired_vcpus is set (0 lets Batch start at min_vcpus)."
    }
  }

  # The roles must keep their permissions while Batch creates and deletes the
  # compute environment.
  depends_on = [
    aws_iam_role_policy_attachment.service,
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
  service_role                    = local.service_role_arn

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
  }

  depends_on = [aws_iam_role_policy_attachment.service]
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
      } : k => v if v != null
    }
  }
}

resource "aws_batch_job_definition" "this" {
  for_each = var.job_definitions

  name                  = each.key
  type                  = "container"
  platform_capabilities = [local.is_fargate ? "FARGATE" : "EC2"]
  propagate_tags        = true

  container_properties = jsonencode(local.job_container_properties[each.key])

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !(local.is_fargate && each.value.gpus > 0)
      error_message = "Job definition ${each.key} requests GPUs, which FARGATE compute profiles do not have."
    }
  }

  depends_on = [aws_iam_role_policy_attachment.execution]
}
