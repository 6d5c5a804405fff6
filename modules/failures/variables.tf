variable "name" {
  description = "Name of the deployment: the queue is NAME-failures, the EventBridge rule NAME-batch-failures (both truncated to AWS's name limits)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.name))
    error_message = "name must be 1-80 characters of letters, digits, '-' or '_' (it names an SQS queue)."
  }
}

variable "job_queue_arns" {
  description = "ARNs of the deployment's Batch job queues: their FAILED jobs are sent to the queue. Empty: no EventBridge rule (Lambda functions only)."
  type        = list(string)
  default     = []
}

variable "message_retention_seconds" {
  description = "How long a failure is kept in the queue, in seconds (60-1209600; default 14 days, SQS's maximum)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600 && floor(var.message_retention_seconds) == var.message_retention_seconds
    error_message = "message_retention_seconds must be a whole number of seconds between 60 and 1209600 (14 days)."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource of the module."
  type        = map(string)
  default     = {}
}
