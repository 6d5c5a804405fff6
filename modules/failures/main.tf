data "aws_partition" "current" {}

locals {
  partition     = data.aws_partition.current.partition
  capture_batch = length(var.job_queue_arns) > 0
}

################################################################################
# The queue every failure of the deployment lands in: Lambda's on-failure
# destination records (sent with each function's own role) and the Batch Job
# State Change events of failed jobs (sent by EventBridge).
################################################################################

resource "aws_sqs_queue" "this" {
  name                      = "${substr(var.name, 0, 71)}-failures"
  message_retention_seconds = var.message_retention_seconds
  sqs_managed_sse_enabled   = true

  tags = var.tags
}

################################################################################
# Failed Batch jobs of the deployment's job queues
################################################################################

resource "aws_cloudwatch_event_rule" "batch" {
  count = local.capture_batch ? 1 : 0

  name        = "${substr(var.name, 0, 49)}-batch-failures"
  description = "Failed Batch jobs of the deployment ${var.name}, kept in its failures queue"

  event_pattern = jsonencode({
    source        = ["aws.batch"]
    "detail-type" = ["Batch Job State Change"]
    detail = {
      status   = ["FAILED"]
      jobQueue = var.job_queue_arns
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "batch" {
  count = local.capture_batch ? 1 : 0

  rule      = aws_cloudwatch_event_rule.batch[0].name
  target_id = "failures-queue"
  arn       = aws_sqs_queue.this.arn
}

# Only this deployment's rule may send (the Lambda functions send with their
# own roles, which the iam module allows exactly this queue).
data "aws_iam_policy_document" "queue" {
  count = local.capture_batch ? 1 : 0

  statement {
    sid       = "BatchFailuresFromEventBridge"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.this.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.batch[0].arn]
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  count = local.capture_batch ? 1 : 0

  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.queue[0].json
}
