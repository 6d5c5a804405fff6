output "job_queue_arn" {
  description = "ARN of the job queue."
  value       = aws_batch_job_queue.this.arn
}

output "job_queue_name" {
  description = "Name of the job queue."
  value       = aws_batch_job_queue.this.name
}

output "compute_environment_arn" {
  description = "ARN of the compute environment."
  value       = local.compute_environment_arn
}

output "job_definition_arns" {
  description = "Map of job definition name to the ARN of its current revision."
  value       = { for name, jd in aws_batch_job_definition.this : name => jd.arn }
}

output "job_definition_names" {
  description = "Map of job definition key to job definition name."
  value       = { for name, jd in aws_batch_job_definition.this : name => jd.name }
}

output "instance_role_arn" {
  description = "ARN of the EC2 instance profile used by the container instances (created or given), or null for FARGATE."
  value       = local.instance_profile_arn
}
