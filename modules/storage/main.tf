data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition

  created_buckets = { for id, b in var.buckets : id => b if b.create }

  bucket_names = {
    for id, b in var.buckets : id => (b.create ? aws_s3_bucket.this[id].id : b.name)
  }
  bucket_arns = {
    for id, b in var.buckets : id => (b.create ? aws_s3_bucket.this[id].arn : "arn:${local.partition}:s3:::${b.name}")
  }

  # One Lambda permission per distinct (function, bucket) pair. Keys only use
  # literal values (function name and bucket id), never computed ARNs.
  permission_groups = {
    for id, n in var.notifications : "${n.function_name}/${n.bucket}" => {
      function_name = n.function_name
      function_arn  = n.function_arn
      bucket        = n.bucket
    }...
  }
  permissions = { for k, group in local.permission_groups : k => group[0] }

  # Exactly one notification configuration per bucket, holding all its triggers.
  notification_buckets = toset([for n in values(var.notifications) : n.bucket])

  # Exactly one lifecycle configuration per bucket, holding all its expirations.
  expiration_buckets = toset([for e in values(var.expirations) : e.bucket])
}

################################################################################
# Buckets
################################################################################

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:access logging needs a separate log bucket; CloudTrail data events are the caller's choice
  #checkov:skip=CKV_AWS_21:versioning would keep every overwritten input and output; the data buckets are work areas
  #checkov:skip=CKV_AWS_144:cross-region replication doubles storage for data that can be produced again
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) encryption is on; SSE-KMS would need kms:Decrypt for every Lambda and Batch role
  #checkov:skip=CKV2_AWS_61:object lifetimes of data buckets depend on the workflow; var.expirations sets rules where the caller wants them
  #checkov:skip=CKV2_AWS_62:a bucket gets its one notification when it triggers a function; output-only and deployment buckets need none
  for_each = local.created_buckets

  bucket        = each.value.name
  bucket_prefix = each.value.name_prefix
  force_destroy = each.value.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.created_buckets

  bucket = aws_s3_bucket.this[each.key].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.created_buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }

  # S3 rejects concurrent configuration changes of one bucket.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.created_buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }

  depends_on = [aws_s3_bucket_ownership_controls.this]
}

################################################################################
# Expirations (e.g. the events staged for Batch jobs in the deployment bucket)
################################################################################

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  #checkov:skip=CKV_AWS_300:every rule aborts incomplete multipart uploads after a day, in the dynamic block checkov does not expand
  for_each = local.expiration_buckets

  bucket = local.bucket_names[each.key]

  dynamic "rule" {
    for_each = { for id, e in var.expirations : id => e if e.bucket == each.key }

    content {
      id     = rule.key
      status = "Enabled"

      filter {
        prefix = rule.value.prefix
      }

      expiration {
        days = rule.value.days
      }

      abort_incomplete_multipart_upload {
        days_after_initiation = 1
      }
    }
  }

  lifecycle {
    precondition {
      condition     = contains(keys(local.created_buckets), each.key)
      error_message = "Expirations refer to bucket \"${each.key}\", which is not a bucket this module creates: its own lifecycle rules would be replaced."
    }
  }

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.this]
}

################################################################################
# Staged objects
################################################################################

resource "aws_s3_object" "this" {
  for_each = var.objects

  bucket      = local.bucket_names[each.value.bucket]
  key         = each.value.key
  source      = each.value.source
  source_hash = each.value.source_hash

  tags = var.tags

  lifecycle {
    precondition {
      condition     = contains(keys(var.buckets), each.value.bucket)
      error_message = "Object ${each.key}: bucket \"${each.value.bucket}\" is not a key of var.buckets."
    }
  }

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.this]
}

################################################################################
# S3 -> Lambda triggers
################################################################################

resource "aws_lambda_permission" "this" {
  for_each = local.permissions

  statement_id  = "AllowS3-${substr(replace(each.value.bucket, "/[^A-Za-z0-9_-]/", "-"), 0, 80)}-${substr(sha1(each.value.bucket), 0, 8)}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_arn
  principal     = "s3.amazonaws.com"
  source_arn    = local.bucket_arns[each.value.bucket]
  # Bucket ARNs carry no account: pin the bucket owner.
  source_account = data.aws_caller_identity.current.account_id

  lifecycle {
    precondition {
      condition     = contains(keys(var.buckets), each.value.bucket)
      error_message = "Notification for ${each.value.function_name}: bucket \"${each.value.bucket}\" is not a key of var.buckets."
    }
  }
}

resource "aws_s3_bucket_notification" "this" {
  for_each = local.notification_buckets

  bucket = local.bucket_names[each.key]

  # Map iteration is in lexical key order: stable.
  dynamic "lambda_function" {
    for_each = { for id, n in var.notifications : id => n if n.bucket == each.key }

    content {
      id                  = lambda_function.key
      lambda_function_arn = lambda_function.value.function_arn
      events              = lambda_function.value.events
      filter_prefix       = lambda_function.value.filter_prefix == "" ? null : lambda_function.value.filter_prefix
      filter_suffix       = lambda_function.value.filter_suffix == "" ? null : lambda_function.value.filter_suffix
    }
  }

  lifecycle {
    precondition {
      condition     = contains(keys(var.buckets), each.key)
      error_message = "Notifications refer to bucket \"${each.key}\", which is not a key of var.buckets."
    }
  }

  depends_on = [
    aws_lambda_permission.this,
    aws_s3_bucket_server_side_encryption_configuration.this,
  ]
}
