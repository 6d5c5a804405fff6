variable "repository_name" {
  description = "Name of the private ECR repository created for the image (lowercase letters and digits separated by single '.', '_', '-' or '/', 2-256 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.repository_name)) && length(var.repository_name) >= 2 && length(var.repository_name) <= 256
    error_message = "repository_name must be lowercase letters and digits, separated by single '.', '_', '-' or '/', 2-256 characters (ECR's rule)."
  }
}

variable "builder_function_name" {
  description = "Name of the builder Lambda function (module image-builder) that assembles and pushes the image."
  type        = string
}

variable "architecture" {
  description = "Architecture of the image: \"x86_64\" or \"arm64\" (the platform picked from a multi-platform base)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be \"x86_64\" or \"arm64\"."
  }
}

variable "base_image" {
  description = "The base image: a Docker Hub short name (alpine:3.20), or any registry's reference, by tag or digest. Null with base_archive."
  type        = string
  default     = null
}

variable "base_archive" {
  description = "The base image as a `docker save` or OCI archive in S3 (SCAR's container.image_file), instead of base_image."
  type = object({
    bucket = string
    key    = string
  })
  default = null

  validation {
    condition     = var.base_archive == null || (length(try(var.base_archive.bucket, "")) > 0 && length(try(var.base_archive.key, "")) > 0)
    error_message = "base_archive needs a bucket and a key."
  }
}

variable "credentials_secret" {
  description = "Secrets Manager secret (name or ARN) holding {\"username\": ..., \"password\": ...} for a private base image's registry, or null for anonymous pulls. The builder reads it; it is in no file, plan or state."
  type        = string
  default     = null
}

variable "layers" {
  description = "Layers added on top of the base, in order: gzipped tars staged in S3, with the digests the builder checks (digest: of the gzipped blob; diff_id: of the tar)."
  type = list(object({
    bucket  = string
    key     = string
    digest  = string
    diff_id = string
    size    = number
    comment = string
  }))

  validation {
    condition     = alltrue([for l in var.layers : can(regex("^sha256:[0-9a-f]{64}$", l.digest)) && can(regex("^sha256:[0-9a-f]{64}$", l.diff_id)) && l.size > 0])
    error_message = "Each layer needs sha256:HEX digest and diff_id, and a positive size."
  }
}

variable "entrypoint" {
  description = "The image's entry point; the base's entry point and command become its command."
  type        = list(string)

  validation {
    condition     = length(var.entrypoint) > 0
    error_message = "entrypoint must name a program."
  }
}

variable "environment" {
  description = "Variables added to the image's environment (over the base's)."
  type        = map(string)
  default     = {}
}

variable "keep_images" {
  description = "How many of the newest faas-render images the lifecycle policy keeps in the repository, besides the one in use (tagged faas-in-use), which it never expires."
  type        = number
  default     = 5

  validation {
    condition     = var.keep_images >= 1 && floor(var.keep_images) == var.keep_images
    error_message = "keep_images must be a whole number, at least 1."
  }
}

variable "lambda_function_names" {
  description = "Names of the Lambda functions (this account and region) that run the image: the repository policy lets Lambda pull it for them and no other function. Empty when only Batch runs it (Batch pulls with its own roles)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for name in var.lambda_function_names : can(regex("^[a-zA-Z0-9_-]{1,64}$", name))])
    error_message = "lambda_function_names must be Lambda function names (letters, digits, '-' and '_', 1-64 characters), not ARNs."
  }
}

variable "in_use_by" {
  description = "References to what runs the image (function ARNs, job definition ARNs): once they are applied, the image is tagged faas-in-use, which the lifecycle policy never expires. Their values only order that step."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to the repository."
  type        = map(string)
  default     = {}
}
