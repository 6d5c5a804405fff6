output "function_name" {
  description = "Name of the builder function (the image module's builder_function_name)."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the builder function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the builder's role."
  value       = aws_iam_role.this.arn
}
