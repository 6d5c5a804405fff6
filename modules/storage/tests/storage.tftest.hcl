# Offline tests of the storage module against a mocked AWS provider:
#   terraform init && terraform test

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
}

variables {
  buckets = {
    media   = { name = "media-bucket" }
    archive = { name = "archive-bucket", create = false }
  }
  notifications = {
    "video-split/0" = {
      bucket        = "media"
      function_name = "video-split"
      function_arn  = "arn:aws:lambda:us-east-1:123456789012:function:video-split"
      filter_prefix = "input/"
    }
    "frame-stats/0" = {
      bucket        = "media"
      function_name = "frame-stats"
      function_arn  = "arn:aws:lambda:us-east-1:123456789012:function:frame-stats"
      filter_prefix = "frames/"
    }
    "frame-stats/1" = {
      bucket        = "archive"
      function_name = "frame-stats"
      function_arn  = "arn:aws:lambda:us-east-1:123456789012:function:frame-stats"
      filter_prefix = ""
    }
  }
}

run "one_notification_per_bucket" {
  command = plan

  assert {
    condition     = keys(aws_s3_bucket_notification.this) == ["archive", "media"]
    error_message = "Exactly one notification configuration per triggering bucket."
  }

  assert {
    condition     = [for f in aws_s3_bucket_notification.this["media"].lambda_function : f.id] == ["frame-stats/0", "video-split/0"]
    error_message = "A bucket's notification must hold every trigger of that bucket, in key order."
  }

  assert {
    condition     = [for f in aws_s3_bucket_notification.this["media"].lambda_function : f.filter_prefix] == ["frames/", "input/"]
    error_message = "Each trigger keeps its prefix filter."
  }

  assert {
    condition     = aws_s3_bucket_notification.this["archive"].bucket == "archive-bucket" && aws_s3_bucket_notification.this["archive"].lambda_function[0].filter_prefix == null
    error_message = "An existing bucket is addressed by name, and an empty filter means none."
  }

  assert {
    condition     = keys(aws_lambda_permission.this) == ["frame-stats/archive", "frame-stats/media", "video-split/media"]
    error_message = "One Lambda permission per (function, bucket) pair."
  }

  assert {
    condition     = alltrue([for p in aws_lambda_permission.this : p.principal == "s3.amazonaws.com" && p.source_account == "123456789012"])
    error_message = "S3 may invoke the functions only from the caller's account."
  }
}

run "created_buckets_are_private" {
  command = plan

  assert {
    condition     = keys(aws_s3_bucket.this) == ["media"]
    error_message = "Only buckets with create = true are created."
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this["media"].block_public_acls,
      aws_s3_bucket_public_access_block.this["media"].block_public_policy,
      aws_s3_bucket_public_access_block.this["media"].ignore_public_acls,
      aws_s3_bucket_public_access_block.this["media"].restrict_public_buckets,
    ])
    error_message = "Created buckets block every kind of public access."
  }

  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.this["media"].rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
    error_message = "Created buckets are encrypted by default."
  }
}

run "unknown_bucket_in_notification" {
  command = plan

  variables {
    notifications = {
      "video-split/0" = {
        bucket        = "elsewhere"
        function_name = "video-split"
        function_arn  = "arn:aws:lambda:us-east-1:123456789012:function:video-split"
      }
    }
  }

  expect_failures = [aws_lambda_permission.this]
}

run "expirations_of_a_created_bucket" {
  command = plan

  variables {
    expirations = {
      "staged-events/video-split" = { bucket = "media", prefix = "events/video-split/", days = 14 }
      "staged-events/frame-stats" = { bucket = "media", prefix = "events/frame-stats/", days = 3 }
    }
  }

  assert {
    condition     = keys(aws_s3_bucket_lifecycle_configuration.this) == ["media"]
    error_message = "Exactly one lifecycle configuration per bucket with expirations."
  }

  assert {
    condition = [for r in aws_s3_bucket_lifecycle_configuration.this["media"].rule : [r.id, r.filter[0].prefix, r.expiration[0].days]] == [
      ["staged-events/frame-stats", "events/frame-stats/", 3],
      ["staged-events/video-split", "events/video-split/", 14],
    ]
    error_message = "Each expiration is a rule limited to its prefix."
  }
}

run "expirations_leave_existing_buckets_alone" {
  command = plan

  variables {
    expirations = {
      "old" = { bucket = "archive", prefix = "events/", days = 14 }
    }
  }

  expect_failures = [aws_s3_bucket_lifecycle_configuration.this]
}

run "expiration_of_a_whole_bucket" {
  command = plan

  variables {
    expirations = {
      "all" = { bucket = "media", prefix = "", days = 14 }
    }
  }

  expect_failures = [var.expirations]
}
