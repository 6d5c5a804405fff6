data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  create_lambda_role = var.lambda_role_arn == null
  uses_batch         = var.job_queue_arn != null

  # IAM name_prefix is limited to 38 characters; keep the function name readable.
  short_name = substr(var.name, 0, 28)

  # "bucket/prefix/*", or "bucket/*" for the whole bucket.
  input_object_arns = distinct([
    for l in var.input_locations :
    l.key_prefix == "" ? "arn:${local.partition}:s3:::${l.bucket}/*" : "arn:${local.partition}:s3:::${l.bucket}/${l.key_prefix}/*"
  ])
  output_object_arns = distinct([
    for l in var.output_locations :
    l.key_prefix == "" ? "arn:${local.partition}:s3:::${l.bucket}/*" : "arn:${local.partition}:s3:::${l.bucket}/${l.key_prefix}/*"
  ])

  # ListBucket per input bucket, restricted to the input prefixes (no condition
  # when one of them is the whole bucket).
  input_prefixes_by_bucket = {
    for l in var.input_locations : l.bucket => l.key_prefix...
  }
  input_list_buckets = {
    for bucket, prefixes in local.input_prefixes_by_bucket : bucket => {
      arn      = "arn:${local.partition}:s3:::${bucket}"
      prefixes = contains(prefixes, "") ? [] : sort(distinct(flatten([for p in prefixes : [p, "${p}/*"]])))
    }
  }

  # SSM parameter ARNs: "parameter/a/b" for "/a/b", and for "name" alike.
  credentials_parameter_arns = [
    for name in var.credentials_parameters :
    "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${trimprefix(name, "/")}"
  ]

  artifacts_arn = var.artifacts_bucket == null ? null : "arn:${local.partition}:s3:::${var.artifacts_bucket}"

  job_definition_arn = var.job_definition_name == null ? null : "arn:${local.partition}:batch:${local.region}:${local.account_id}:job-definition/${var.job_definition_name}"
}

################################################################################
# Data access shared by the Lambda role and the Batch job role: read exactly the
# input prefixes, write exactly the output prefixes, read the SSM parameters
# holding other accounts' storage keys, use the KMS keys of encrypted buckets.
################################################################################

data "aws_iam_policy_document" "data_access" {
  dynamic "statement" {
    for_each = length(local.input_object_arns) > 0 ? [local.input_object_arns] : []

    content {
      sid       = "ReadInputs"
      actions   = ["s3:GetObject"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = local.input_list_buckets

    content {
      sid       = "ListInputs${index(keys(local.input_list_buckets), statement.key)}"
      actions   = ["s3:ListBucket"]
      resources = [statement.value.arn]

      dynamic "condition" {
        for_each = length(statement.value.prefixes) > 0 ? [statement.value.prefixes] : []

        content {
          test     = "StringLike"
          variable = "s3:prefix"
          values   = condition.value
        }
      }
    }
  }

  dynamic "statement" {
    for_each = length(local.output_object_arns) > 0 ? [local.output_object_arns] : []

    content {
      sid       = "WriteOutputs"
      actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(local.credentials_parameter_arns) > 0 ? [local.credentials_parameter_arns] : []

    content {
      sid       = "ReadStorageCredentials"
      actions   = ["ssm:GetParameter"]
      resources = statement.value
    }
  }

  # Objects of existing buckets encrypted with customer managed keys (SSE-KMS).
  dynamic "statement" {
    for_each = length(var.kms_key_arns) > 0 ? [distinct(var.kms_key_arns)] : []

    content {
      sid       = "UseBucketKeys"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = statement.value
    }
  }
}

################################################################################
# Lambda execution role
################################################################################

data "aws_iam_policy_document" "lambda_assume" {
  count = local.create_lambda_role ? 1 : 0

  statement {
    sid     = "LambdaAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "lambda" {
  count = local.create_lambda_role ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.data_access.json]

  lifecycle {
    precondition {
      condition     = !local.uses_batch || (var.job_definition_name != null && var.artifacts_bucket != null)
      error_message = "job_queue_arn needs job_definition_name and artifacts_bucket."
    }
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.name}:*"]
  }

  dynamic "statement" {
    for_each = local.uses_batch ? [var.job_queue_arn] : []

    content {
      sid     = "SubmitBatchJobs"
      actions = ["batch:SubmitJob"]
      resources = [
        statement.value,
        local.job_definition_arn,
        "${local.job_definition_arn}:*",
      ]
    }
  }

  dynamic "statement" {
    for_each = var.failure_queue_arn != null ? [var.failure_queue_arn] : []

    content {
      sid       = "SendFailures"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.uses_batch ? [local.artifacts_arn] : []

    content {
      sid       = "StageLargeEvents"
      actions   = ["s3:PutObject"]
      resources = ["${statement.value}/events/${var.name}/*"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  count = local.create_lambda_role ? 1 : 0

  name_prefix        = "${local.short_name}-lambda-"
  description        = "Execution role of the Lambda function ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume[0].json

  tags = var.tags
}

resource "aws_iam_role_policy" "lambda" {
  count = local.create_lambda_role ? 1 : 0

  name   = "faas-render"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.lambda[0].json
}

resource "aws_iam_role_policy_attachment" "lambda_vpc_access" {
  count = local.create_lambda_role && var.vpc_access ? 1 : 0

  role       = aws_iam_role.lambda[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

################################################################################
# Batch job role
################################################################################

data "aws_iam_policy_document" "job_assume" {
  count = var.create_job_role ? 1 : 0

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
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "job" {
  count = var.create_job_role ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.data_access.json]

  lifecycle {
    precondition {
      condition     = var.artifacts_bucket != null
      error_message = "create_job_role needs artifacts_bucket (the job reads the function's artifacts from it)."
    }
  }

  statement {
    sid     = "ReadFunctionArtifacts"
    actions = ["s3:GetObject"]
    resources = [
      "${local.artifacts_arn}/functions/${var.name}/*",
      "${local.artifacts_arn}/events/${var.name}/*",
    ]
  }
}

resource "aws_iam_role" "job" {
  count = var.create_job_role ? 1 : 0

  name_prefix        = "${local.short_name}-job-"
  description        = "Role of the Batch jobs of the function ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.job_assume[0].json

  tags = var.tags
}

resource "aws_iam_role_policy" "job" {
  count = var.create_job_role ? 1 : 0

  name   = "faas-render"
  role   = aws_iam_role.job[0].id
  policy = data.aws_iam_policy_document.job[0].json
}
