variable "name" {
  description = "Name of the function the roles belong to (the Lambda function name, also used in log group, artifact and job definition names)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 characters of letters, digits, '-' or '_' (a Lambda function name)."
  }
}

variable "lambda_role_arn" {
  description = "ARN of an existing role for the Lambda function. null (the default) creates the execution role; a non-null value is used as is and nothing is created for Lambda. Must be known at plan time (a literal, a variable or a data source)."
  type        = string
  default     = null
}

variable "create_job_role" {
  description = "Whether to create the role of the function's Batch jobs (trusted by ecs-tasks.amazonaws.com)."
  type        = bool
  default     = false
}

variable "input_locations" {
  description = "S3 locations the function reads. key_prefix has no leading or trailing slash; \"\" means the whole bucket."
  type = list(object({
    bucket     = string
    key_prefix = string
  }))
  default = []

  validation {
    condition = alltrue([
      for l in var.input_locations :
      length(l.bucket) > 0 && !startswith(l.key_prefix, "/") && !endswith(l.key_prefix, "/")
    ])
    error_message = "Each input location needs a bucket name and a key_prefix without leading or trailing slash (\"\" for the whole bucket)."
  }
}

variable "output_locations" {
  description = "S3 locations the function writes. key_prefix has no leading or trailing slash; \"\" means the whole bucket."
  type = list(object({
    bucket     = string
    key_prefix = string
  }))
  default = []

  validation {
    condition = alltrue([
      for l in var.output_locations :
      length(l.bucket) > 0 && !startswith(l.key_prefix, "/") && !endswith(l.key_prefix, "/")
    ])
    error_message = "Each output location needs a bucket name and a key_prefix without leading or trailing slash (\"\" for the whole bucket)."
  }
}

variable "credentials_parameters" {
  description = "Names of SSM parameters (SecureString, encrypted with the AWS managed key aws/ssm) the function reads at run time: the keys of other accounts' buckets it writes to. A customer managed KMS key also needs kms:Decrypt, granted separately."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for name in var.credentials_parameters : can(regex("^[A-Za-z0-9_.\\-/]+$", name))])
    error_message = "Each credentials parameter is an SSM parameter name (letters, digits and _ . - /), not an ARN."
  }
}

variable "kms_key_arns" {
  description = "ARNs of the KMS keys that objects of the function's existing buckets are encrypted with (SSE-KMS): the Lambda role and the job role may use exactly these keys (kms:Decrypt, kms:GenerateDataKey). Key ARNs, not aliases."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.kms_key_arns : can(regex("^arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:[0-9]{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", arn))])
    error_message = "Each KMS key is a key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (an alias cannot grant access to a key)."
  }
}

variable "artifacts_bucket" {
  description = "Name of the deployment (artifacts) bucket holding functions/NAME/ and events/NAME/. Required when job_queue_arn is set or create_job_role is true."
  type        = string
  default     = null
}

variable "job_queue_arn" {
  description = "ARN of the Batch job queue the Lambda function submits jobs to, or null when the function does not use Batch."
  type        = string
  default     = null
}

variable "job_definition_name" {
  description = "Name of the Batch job definition the Lambda function submits (required with job_queue_arn)."
  type        = string
  default     = null
}

variable "failure_queue_arn" {
  description = "ARN of the SQS queue the Lambda function's failed asynchronous invocations are sent to (its on-failure destination, e.g. the failures module's queue): the created Lambda role may send to exactly that queue. Null: no such permission."
  type        = string
  default     = null
}

variable "vpc_access" {
  description = "Attach the AWS managed policy AWSLambdaVPCAccessExecutionRole to the created Lambda role (needed when the function runs in a VPC)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every taggable resource of the module."
  type        = map(string)
  default     = {}
}
