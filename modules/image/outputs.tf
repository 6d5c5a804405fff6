output "image_uri" {
  description = "The image pinned by digest (REPOSITORY_URL@sha256:...), for aws_lambda_function.image_uri and Batch job definitions."
  value       = "${aws_ecr_repository.this.repository_url}@${data.aws_ecr_image.this.image_digest}"
}

output "image_digest" {
  description = "The image's digest (sha256 of its manifest)."
  value       = data.aws_ecr_image.this.image_digest
}

output "image_tag" {
  description = "The tag the builder pushed: faas- and a hash of the build's inputs."
  value       = local.tag
}

output "repository_name" {
  description = "Name of the ECR repository."
  value       = aws_ecr_repository.this.name
}

output "repository_arn" {
  description = "ARN of the ECR repository (for pull permissions)."
  value       = aws_ecr_repository.this.arn
}
