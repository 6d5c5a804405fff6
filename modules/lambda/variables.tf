variable "function_name" {
  description = "Name of the Lambda function (1-64 letters, digits, hyphens or underscores)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 characters of letters, digits, '-' or '_'."
  }
}

variable "description" {
  description = "Description of the Lambda function."
  type        = string
  default     = ""
}

variable "role_arn" {
  description = "ARN of the IAM role the function runs as (see the iam module)."
  type        = string
}

variable "filename" {
  description = "Path to the deployment package (zip file) of the function; null for a container image function (image_uri)."
  type        = string
  default     = null
}

variable "source_code_hash" {
  description = "Base64-encoded SHA-256 of the deployment package; a change redeploys the code. Null with image_uri."
  type        = string
  default     = null
}

variable "image_uri" {
  description = "ECR image of a container image function, pinned by digest (REGISTRY/REPOSITORY@sha256:...); its entry point serves the Lambda Runtime API. Null for a zip function."
  type        = string
  default     = null

  validation {
    condition     = var.image_uri == null || can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9._/-]+(@sha256:[0-9a-f]{64}|:[A-Za-z0-9_.-]+)$", var.image_uri))
    error_message = "image_uri must be an Amazon ECR image (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:... or :TAG): Lambda runs images from ECR only."
  }
}

variable "handler" {
  description = "Function entry point in the deployment package (zip functions only)."
  type        = string
  default     = "faas_supervisor.lambda_function.lambda_handler"
}

variable "runtime" {
  description = "Lambda runtime identifier (zip functions only)."
  type        = string
  default     = "python3.12"
}

variable "memory_size" {
  description = "Memory in MB available to the function (128-10240)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout" {
  description = "Maximum run time of one invocation in seconds (1-900)."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "ephemeral_storage_size" {
  description = "Size of /tmp in MB (512-10240)."
  type        = number
  default     = 512

  validation {
    condition     = var.ephemeral_storage_size >= 512 && var.ephemeral_storage_size <= 10240 && floor(var.ephemeral_storage_size) == var.ephemeral_storage_size
    error_message = "ephemeral_storage_size must be a whole number of MB between 512 and 10240."
  }
}

variable "architectures" {
  description = "Instruction set architecture of the function: [\"x86_64\"] or [\"arm64\"]."
  type        = list(string)
  default     = ["x86_64"]

  validation {
    condition     = length(var.architectures) == 1 && alltrue([for a in var.architectures : contains(["x86_64", "arm64"], a)])
    error_message = "architectures must be exactly one of \"x86_64\" or \"arm64\"."
  }
}

variable "layers" {
  description = "ARNs of Lambda layer versions to attach (at most 5)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.layers) <= 5
    error_message = "A Lambda function can use at most 5 layers."
  }
}

variable "environment" {
  description = "Environment variables of the function (at most 4 KB as a JSON document, as Lambda measures them). An empty map sets none (no environment block)."
  type        = map(string)
  default     = {}

  validation {
    # Lambda measures the variables as a JSON document; jsonencode escapes <, > and & where Lambda does not.
    condition     = length(replace(replace(replace(jsonencode(var.environment), "\\u003c", "<"), "\\u003e", ">"), "\\u0026", "&")) <= 4096
    error_message = "Lambda environment variables are limited to 4 KB, measured as a JSON document ({\"NAME\":\"value\",...}); stage large values in S3 instead."
  }
}

variable "vpc_config" {
  description = "Subnets and security groups to run the function in a VPC, or null for no VPC. The role needs VPC access (iam module: vpc_access = true)."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "file_system_config" {
  description = "EFS access point ARN and local mount path (must start with /mnt/), or null for none."
  type = object({
    arn              = string
    local_mount_path = string
  })
  default = null

  validation {
    condition     = var.file_system_config == null || can(regex("^/mnt/[A-Za-z0-9._-]+", try(var.file_system_config.local_mount_path, "")))
    error_message = "file_system_config.local_mount_path must start with /mnt/."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the function's CloudWatch log group in days (0 keeps logs forever)."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of the values CloudWatch Logs accepts: 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "api_gateway" {
  description = "When set, expose the function through a REST API with a {proxy+} resource (method ANY, no authorization) deployed to the given stage."
  type = object({
    name       = string
    stage_name = string
  })
  default = null

  validation {
    condition     = var.api_gateway == null || can(regex("^[A-Za-z0-9_]{1,128}$", try(var.api_gateway.stage_name, "")))
    error_message = "api_gateway.stage_name must be 1-128 letters, digits or underscores."
  }
}

variable "maximum_retry_attempts" {
  description = "How many times Lambda retries a failed asynchronous invocation (0-2)."
  type        = number
  default     = 2

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 2 && floor(var.maximum_retry_attempts) == var.maximum_retry_attempts
    error_message = "maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "maximum_event_age_in_seconds" {
  description = "How long Lambda keeps an asynchronous invocation to run or retry, in seconds (60-21600)."
  type        = number
  default     = 21600

  validation {
    condition     = var.maximum_event_age_in_seconds >= 60 && var.maximum_event_age_in_seconds <= 21600 && floor(var.maximum_event_age_in_seconds) == var.maximum_event_age_in_seconds
    error_message = "maximum_event_age_in_seconds must be a whole number of seconds between 60 and 21600."
  }
}

variable "on_failure_destination_arn" {
  description = "ARN of the destination (an SQS queue, such as the failures module's) Lambda sends an asynchronous invocation to when it still fails after its retries or is too old; the function's role needs permission to send there. Null: failed events are discarded, as Lambda does."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags applied to every taggable resource of the module."
  type        = map(string)
  default     = {}
}
