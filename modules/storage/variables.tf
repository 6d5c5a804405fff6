variable "buckets" {
  description = "S3 buckets keyed by a literal id. create = true creates the bucket (exactly one of name or name_prefix); create = false references an existing bucket by name."
  type = map(object({
    name          = optional(string)
    name_prefix   = optional(string)
    create        = optional(bool, true)
    force_destroy = optional(bool, false)
  }))

  validation {
    condition = alltrue([
      for b in values(var.buckets) :
      b.create ? ((b.name == null) != (b.name_prefix == null)) : (b.name != null && b.name_prefix == null)
    ])
    error_message = "A created bucket needs exactly one of name or name_prefix; an existing bucket (create = false) needs name and no name_prefix."
  }

  validation {
    condition = alltrue([
      for b in values(var.buckets) :
      b.name == null || (
        can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", coalesce(b.name, "x"))) &&
        !strcontains(coalesce(b.name, "x"), "..") &&
        !can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", coalesce(b.name, "x")))
      )
    ])
    error_message = "Bucket names must be 3-63 lowercase letters, digits, '-' or '.', start and end with a letter or digit, contain no '..' and not look like an IP address."
  }

  validation {
    condition = alltrue([
      for b in values(var.buckets) :
      b.name_prefix == null || can(regex("^[a-z0-9][a-z0-9.-]{0,36}$", coalesce(b.name_prefix, "x")))
    ])
    error_message = "Bucket name prefixes must be 1-37 lowercase letters, digits, '-' or '.', starting with a letter or digit."
  }
}

variable "objects" {
  description = "Objects uploaded from local files, keyed by a literal id. bucket is a key of var.buckets; source_hash (e.g. filemd5 or a sha256 computed by the renderer) triggers re-uploads."
  type = map(object({
    bucket      = string
    key         = string
    source      = string
    source_hash = string
  }))
  default = {}

  validation {
    condition     = alltrue([for o in values(var.objects) : length(o.key) > 0 && !startswith(o.key, "/")])
    error_message = "Object keys must be non-empty and must not start with '/'."
  }
}

variable "notifications" {
  description = "S3 -> Lambda triggers keyed by a literal id such as \"FUNCTION/0\". bucket is a key of var.buckets. Empty filter strings mean no filter."
  type = map(object({
    bucket        = string
    function_name = string
    function_arn  = string
    filter_prefix = optional(string)
    filter_suffix = optional(string)
    events        = optional(list(string), ["s3:ObjectCreated:*"])
  }))
  default = {}

  validation {
    condition     = alltrue([for n in values(var.notifications) : length(n.events) > 0 && alltrue([for e in n.events : startswith(e, "s3:")])])
    error_message = "Each notification needs at least one S3 event type such as \"s3:ObjectCreated:*\"."
  }
}

variable "expirations" {
  description = "Objects deleted some days after their creation, keyed by a literal id: bucket (a key of var.buckets, a created bucket: its lifecycle configuration is replaced), prefix (the keys it covers, non-empty) and days."
  type = map(object({
    bucket = string
    prefix = string
    days   = number
  }))
  default = {}

  validation {
    condition     = alltrue([for e in values(var.expirations) : length(e.prefix) > 0 && e.days >= 1 && floor(e.days) == e.days])
    error_message = "Each expiration needs a non-empty prefix (an empty one would expire the whole bucket) and a whole number of days, at least 1."
  }
}

variable "tags" {
  description = "Tags applied to the created buckets and the uploaded objects (S3 allows at most 10 tags per object)."
  type        = map(string)
  default     = {}
}
