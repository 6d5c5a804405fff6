output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function (unqualified)."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "ARN used to invoke the function from API Gateway."
  value       = aws_lambda_function.this.invoke_arn
}

output "log_group_name" {
  description = "Name of the CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.this.name
}

output "api_gateway_url" {
  description = "Invoke URL of the API Gateway stage (append a path), or null when no API Gateway is created."
  value       = local.create_api_gateway ? aws_api_gateway_stage.this[0].invoke_url : null
}
