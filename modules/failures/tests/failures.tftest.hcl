# Offline tests of the failures module against a mocked AWS provider:
#   terraform init && terraform test

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name = "video-process"
}

run "lambda_only" {
  command = plan

  assert {
    condition     = aws_sqs_queue.this.name == "video-process-failures" && aws_sqs_queue.this.sqs_managed_sse_enabled
    error_message = "The queue is named after the deployment and encrypted with SQS-managed keys."
  }

  assert {
    condition     = aws_sqs_queue.this.message_retention_seconds == 1209600
    error_message = "Failures are kept 14 days by default."
  }

  assert {
    condition     = length(aws_cloudwatch_event_rule.batch) == 0 && length(aws_sqs_queue_policy.this) == 0
    error_message = "Without job queues there is no EventBridge rule and no queue policy."
  }
}

run "batch_failures" {
  command = plan

  variables {
    job_queue_arns = ["arn:aws:batch:us-east-1:123456789012:job-queue/video-process-split"]
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.batch[0].event_pattern) == {
      source        = ["aws.batch"]
      "detail-type" = ["Batch Job State Change"]
      detail = {
        status   = ["FAILED"]
        jobQueue = ["arn:aws:batch:us-east-1:123456789012:job-queue/video-process-split"]
      }
    }
    error_message = "The rule matches failed jobs of exactly the deployment's job queues."
  }

  assert {
    condition     = aws_cloudwatch_event_target.batch[0].rule == "video-process-batch-failures"
    error_message = "The rule sends to the queue."
  }

  assert {
    condition     = length(aws_sqs_queue_policy.this) == 1
    error_message = "The queue policy lets the rule send."
  }
}

run "long_names_fit" {
  command = plan

  variables {
    name           = join("", [for i in range(16) : "abcde"])
    job_queue_arns = ["arn:aws:batch:us-east-1:123456789012:job-queue/q"]
  }

  assert {
    condition     = length(aws_sqs_queue.this.name) <= 80 && length(aws_cloudwatch_event_rule.batch[0].name) <= 64
    error_message = "Names are truncated to the SQS (80) and EventBridge (64) limits."
  }
}

run "retention_limit" {
  command = plan

  variables {
    message_retention_seconds = 1209601
  }

  expect_failures = [var.message_retention_seconds]
}
