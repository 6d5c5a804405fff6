output "bucket_names" {
  description = "Map of bucket id to bucket name (created or existing)."
  value       = local.bucket_names
}

output "bucket_arns" {
  description = "Map of bucket id to bucket ARN."
  value       = local.bucket_arns
}

output "object_keys" {
  description = "Map of object id to the key of the uploaded object."
  value       = { for id, o in aws_s3_object.this : id => o.key }
}
