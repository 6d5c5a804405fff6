data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  repositories = "arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/${var.repository_prefix}*"

  # Base repository ARN => whether a pull-through cache fills it.
  base_repositories    = { for r in var.base_repositories : "arn:${local.partition}:ecr:${r.region}:${r.account_id}:repository/${r.name}" => r.pull_through... }
  base_repository_arns = sort(keys(local.base_repositories))
  pull_through_arns    = [for arn in local.base_repository_arns : arn if anytrue(local.base_repositories[arn])]

  # Secrets named without their ARN: Secrets Manager appends a random suffix to the name.
  secret_arns = [
    for s in var.credentials_secrets : startswith(s, "arn:") ? s : "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${s}-*"
  ]
}

################################################################################
# Role: push to this deployment's repositories, read the staged layers and
# the registry credentials, write the log.
################################################################################

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "EcrToken"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the action has no resource-level permissions
  }

  statement {
    sid = "EcrPushPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [local.repositories]
  }

  # Bases in private ECR, and Docker Hub's through an ECR pull-through cache: exactly the repositories
  # the functions' bases come from.
  dynamic "statement" {
    for_each = length(local.base_repository_arns) > 0 ? [1] : []

    content {
      sid       = "PullBases"
      actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = local.base_repository_arns
    }
  }

  # A pull-through cache creates the repository and imports the image on its first pull.
  dynamic "statement" {
    for_each = length(local.pull_through_arns) > 0 ? [1] : []

    content {
      sid       = "FillPullThroughCache"
      actions   = ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
      resources = local.pull_through_arns
    }
  }

  # Only what images are built from: the bucket also holds staged events (user data) and the
  # functions' packages, which the builder has no business reading.
  statement {
    sid       = "ReadStagedLayers"
    actions   = ["s3:GetObject"]
    resources = [for prefix in var.artifact_prefixes : "arn:${local.partition}:s3:::${var.artifacts_bucket}/${prefix}*"]
  }

  dynamic "statement" {
    for_each = length(var.credentials_secrets) > 0 ? [1] : []

    content {
      sid       = "ReadRegistryCredentials"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.secret_arns
    }
  }

  statement {
    sid       = "WriteLog"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${substr(var.function_name, 0, 30)}-"
  description        = "faas-render image builder ${var.function_name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "faas-render-image-builder"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

################################################################################
# Function
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer-managed KMS key is the caller's choice
  #checkov:skip=CKV_AWS_338:the build log is of use for days, not a year (log_retention_in_days)
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_in_days

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_50:X-Ray tracing costs per trace; the builder logs every step to CloudWatch
  #checkov:skip=CKV_AWS_115:Terraform invokes the builder once per changed image; reserved concurrency would take from the account pool
  #checkov:skip=CKV_AWS_116:Terraform invokes the builder synchronously and shows its error; there is nothing to retry later
  #checkov:skip=CKV_AWS_117:the builder reaches registries on the internet (the base images); a VPC would need a NAT gateway
  #checkov:skip=CKV_AWS_173:the environment holds no secrets (at most a registry mirror's URL)
  #checkov:skip=CKV_AWS_272:the package is built by faas-render from its own sources; there is no signing profile to verify
  function_name    = var.function_name
  description      = "faas-render: assembles the deployment's container images in ECR"
  role             = aws_iam_role.this.arn
  filename         = var.filename
  source_code_hash = var.source_code_hash
  handler          = "faas_supervisor.image.builder.handler"
  runtime          = var.runtime
  architectures    = ["x86_64"]
  memory_size      = var.memory_size
  timeout          = var.timeout

  # Bases given as archives are downloaded to /tmp before their layers are copied.
  ephemeral_storage {
    size = var.ephemeral_storage_size
  }

  dynamic "environment" {
    for_each = length(var.environment) > 0 ? [var.environment] : []

    content {
      variables = environment.value
    }
  }

  tags = var.tags

  # The builder runs as soon as it exists (Terraform invokes it): its permissions come first.
  depends_on = [aws_iam_role_policy.this, aws_cloudwatch_log_group.this]
}
