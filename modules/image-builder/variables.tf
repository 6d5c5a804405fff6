variable "function_name" {
  description = "Name of the builder Lambda function (1-64 letters, digits, hyphens or underscores)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 characters of letters, digits, '-' or '_'."
  }
}

variable "filename" {
  description = "Path to the builder's deployment package: a zip of the faas_supervisor package (faas-render builds it)."
  type        = string
}

variable "source_code_hash" {
  description = "Base64-encoded SHA-256 of the deployment package."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime of the builder."
  type        = string
  default     = "python3.12"
}

variable "repository_prefix" {
  description = "The builder may push to the ECR repositories whose names start with this prefix (the deployment's)."
  type        = string

  validation {
    condition     = length(var.repository_prefix) > 0
    error_message = "repository_prefix must not be empty: the builder would be allowed to push to every repository."
  }
}

variable "artifacts_bucket" {
  description = "Bucket holding the staged layers and base archives the builder reads."
  type        = string
}

variable "artifact_prefixes" {
  description = "Key prefixes in artifacts_bucket the builder may read: where the layers and base archives are staged (faas-render stages them under layers/ and bases/)."
  type        = list(string)
  default     = ["layers/", "bases/"]

  validation {
    condition     = length(var.artifact_prefixes) > 0 && alltrue([for p in var.artifact_prefixes : length(p) > 0 && !strcontains(p, "*")])
    error_message = "artifact_prefixes needs at least one non-empty prefix without '*': an empty one would let the builder read the whole bucket."
  }
}

variable "base_repositories" {
  description = "ECR repositories the builder pulls bases from (ecr:BatchGetImage, ecr:GetDownloadUrlForLayer): private ECR bases, and the repositories of an ECR pull-through cache used as FAAS_REGISTRY_MIRROR (pull_through: also ecr:BatchImportUpstreamImage and ecr:CreateRepository, with which the cache fills them on a first pull)."
  type = list(object({
    account_id   = string
    region       = string
    name         = string
    pull_through = optional(bool, false)
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.base_repositories : can(regex("^[0-9]{12}$", r.account_id)) && length(r.name) > 0 && !strcontains(r.name, "*")])
    error_message = "base_repositories needs 12-digit account_ids and repository names without '*'."
  }
}

variable "credentials_secrets" {
  description = "Secrets Manager secrets (names or ARNs) holding private base registries' credentials, which the builder may read."
  type        = list(string)
  default     = []
}

variable "memory_size" {
  description = "Memory of the builder in MB (layers are streamed; the network throughput of Lambda grows with memory)."
  type        = number
  default     = 1024
}

variable "timeout" {
  description = "Longest build in seconds (copying a large base takes minutes)."
  type        = number
  default     = 900
}

variable "ephemeral_storage_size" {
  description = "Size of /tmp in MB (512-10240): must hold the largest base archive (container.image_file) and gzipped copies of its uncompressed layers; faas-render sets it from the archives."
  type        = number
  default     = 2048

  validation {
    condition     = var.ephemeral_storage_size >= 512 && var.ephemeral_storage_size <= 10240
    error_message = "ephemeral_storage_size must be between 512 and 10240 MB."
  }
}

variable "environment" {
  description = "Environment of the builder, e.g. { FAAS_REGISTRY_MIRROR = \"https://mirror.example.com\" } to pull Docker Hub images through a mirror."
  type        = map(string)
  default     = {}
}

variable "log_retention_in_days" {
  description = "Retention of the builder's log group in days."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags applied to every taggable resource of the module."
  type        = map(string)
  default     = {}
}
