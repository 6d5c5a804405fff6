output "lambda_role_arn" {
  description = "ARN of the Lambda execution role: the created one, or var.lambda_role_arn when one was given."
  value       = local.create_lambda_role ? aws_iam_role.lambda[0].arn : var.lambda_role_arn

  # Consumers (the function) wait until the permissions are in place.
  depends_on = [aws_iam_role_policy.lambda, aws_iam_role_policy_attachment.lambda_vpc_access]
}

output "job_role_arn" {
  description = "ARN of the Batch job role, or null when create_job_role is false."
  value       = var.create_job_role ? aws_iam_role.job[0].arn : null

  depends_on = [aws_iam_role_policy.job]
}
