output "queue_arn" {
  description = "ARN of the failures queue: the on-failure destination of the deployment's Lambda functions (their roles need sqs:SendMessage on it)."
  value       = aws_sqs_queue.this.arn
}

output "queue_url" {
  description = "URL of the failures queue."
  value       = aws_sqs_queue.this.id
}

output "queue_name" {
  description = "Name of the failures queue."
  value       = aws_sqs_queue.this.name
}

output "batch_rule_arn" {
  description = "ARN of the EventBridge rule sending failed Batch jobs to the queue, or null without job queues."
  value       = local.capture_batch ? aws_cloudwatch_event_rule.batch[0].arn : null

  # A job failing right after apply must find the queue policy in place.
  depends_on = [aws_sqs_queue_policy.this, aws_cloudwatch_event_target.batch]
}
