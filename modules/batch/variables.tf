variable "name" {
  description = "Name of the compute profile: the job queue name, and the prefix of the compute environment and IAM role names."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$", var.name))
    error_message = "name must be 1-100 characters of letters, digits, '-' or '_', starting with a letter or digit."
  }
}

variable "compute_type" {
  description = "Type of the compute resources: \"EC2\", \"SPOT\" or \"FARGATE\"."
  type        = string
  default     = "EC2"

  validation {
    condition     = contains(["EC2", "SPOT", "FARGATE"], var.compute_type)
    error_message = "compute_type must be one of \"EC2\", \"SPOT\" or \"FARGATE\"."
  }
}

variable "min_vcpus" {
  description = "Minimum number of vCPUs the compute environment keeps running (EC2/SPOT only)."
  type        = number
  default     = 0

  validation {
    condition     = var.min_vcpus >= 0 && floor(var.min_vcpus) == var.min_vcpus
    error_message = "min_vcpus must be a whole number >= 0."
  }
}

variable "desired_vcpus" {
  description = "Initial desired number of vCPUs (EC2/SPOT only; 0 starts at min_vcpus). Batch changes it afterwards; later changes of this value are ignored."
  type        = number
  default     = 0

  validation {
    condition     = var.desired_vcpus >= 0 && floor(var.desired_vcpus) == var.desired_vcpus
    error_message = "desired_vcpus must be a whole number >= 0."
  }
}

variable "max_vcpus" {
  description = "Maximum number of vCPUs of the compute environment."
  type        = number
  default     = 2

  validation {
    condition     = var.max_vcpus >= 1 && floor(var.max_vcpus) == var.max_vcpus
    error_message = "max_vcpus must be a whole number >= 1."
  }
}

variable "instance_types" {
  description = "EC2 instance types (or families, or \"optimal\") the compute environment may launch (EC2/SPOT only)."
  type        = list(string)
  default     = ["optimal"]

  validation {
    condition     = length(var.instance_types) > 0
    error_message = "instance_types must not be empty."
  }
}

variable "subnet_ids" {
  description = "Subnets the compute resources are launched in."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must not be empty: AWS Batch needs at least one subnet."
  }
}

variable "security_group_ids" {
  description = "Security groups of the compute resources."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) > 0
    error_message = "security_group_ids must not be empty: AWS Batch needs at least one security group."
  }
}

variable "instance_role_arn" {
  description = "ARN of an existing EC2 instance PROFILE for the container instances (EC2/SPOT). null creates a role and an instance profile. Unused for FARGATE. Must be known at plan time."
  type        = string
  default     = null
}

variable "service_role_arn" {
  description = "ARN of an existing AWS Batch service role. null (recommended) uses Batch's service-linked role AWSServiceRoleForBatch, which Batch creates when the account lacks it: a newly created custom role can leave the compute environment INVALID before IAM has propagated it, and with a custom role any change to the compute resources replaces the compute environment."
  type        = string
  default     = null
}

variable "enable_gpu" {
  description = "Use the GPU (NVIDIA) ECS-optimized AMI for the container instances (EC2/SPOT only)."
  type        = bool
  default     = false
}

variable "image_type" {
  description = "Batch ec2_configuration image type of the container instances (EC2/SPOT). null selects ECS_AL2023, or ECS_AL2023_NVIDIA when enable_gpu is true."
  type        = string
  default     = null
}

variable "architecture" {
  description = "CPU architecture of the jobs' images: \"x86_64\" or \"arm64\". On FARGATE it is the job definitions' runtimePlatform.cpuArchitecture (X86_64 or ARM64; ARM64 runs on Fargate on-demand, not Fargate Spot); on EC2/SPOT the instance types decide the hosts' architecture, so list Graviton types for arm64."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be \"x86_64\" or \"arm64\"."
  }
}

variable "job_definitions" {
  description = "Job definitions run on this compute profile, keyed by job definition name (the function name). image is the function's image (its entry point runs the job), pinned by digest; memory is in MiB; vcpus may be fractional on FARGATE; a null job_role_arn runs the job without a role. retry_attempts (1-10) is how many times a job runs when its host goes away (a Spot reclaim); a job that fails or times out is not retried. timeout (seconds, >= 60) ends an attempt that runs longer. nodes makes it a multi-node parallel job (EC2 only) of nodes.count nodes (2-1000), nodes.main being the main node's index: vcpus, memory and gpus are per node."
  type = map(object({
    image          = string
    vcpus          = number
    memory         = number
    gpus           = optional(number, 0)
    environment    = optional(map(string), {})
    job_role_arn   = string
    retry_attempts = optional(number, 3)
    timeout        = optional(number, 86400)
    nodes = optional(object({
      count = number
      main  = number
    }))
  }))
  default = {}

  validation {
    condition     = alltrue([for k, v in var.job_definitions : can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$", k))])
    error_message = "job_definitions keys must be 1-128 characters of letters, digits, '-' or '_'."
  }

  validation {
    condition = alltrue([
      for v in values(var.job_definitions) :
      length(v.image) > 0 && v.vcpus > 0 && v.memory > 0 && v.gpus >= 0
    ])
    error_message = "Each job definition needs an image, vcpus > 0, memory > 0, and gpus >= 0."
  }

  validation {
    condition = alltrue([
      for v in values(var.job_definitions) :
      v.retry_attempts >= 1 && v.retry_attempts <= 10 && floor(v.retry_attempts) == v.retry_attempts && v.timeout >= 60 && floor(v.timeout) == v.timeout
    ])
    error_message = "Each job definition's retry_attempts must be a whole number from 1 to 10 (Batch's range), and its timeout whole seconds >= 60 (Batch's minimum)."
  }

  validation {
    condition = alltrue([
      for v in values(var.job_definitions) :
      v.nodes == null ? true : (v.nodes.count >= 2 && v.nodes.count <= 1000 && floor(v.nodes.count) == v.nodes.count && v.nodes.main >= 0 && v.nodes.main < v.nodes.count && floor(v.nodes.main) == v.nodes.main)
    ])
    error_message = "A multi-node job definition's nodes.count must be a whole number from 2 to 1000 (Batch's limit), and nodes.main a node index below it."
  }
}

variable "runnable_timeout" {
  description = "Seconds after which a job that Batch cannot place (no capacity, larger than any allowed instance type or than max_vcpus) is cancelled instead of blocking the head of the job queue: 600-86400, Batch's range for jobStateTimeLimitActions."
  type        = number
  default     = 3600

  validation {
    condition     = var.runnable_timeout >= 600 && var.runnable_timeout <= 86400 && floor(var.runnable_timeout) == var.runnable_timeout
    error_message = "runnable_timeout must be whole seconds from 600 to 86400 (Batch's range for jobStateTimeLimitActions)."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource of the module (also to the EC2 instances, via compute_resources.tags; these must be static values)."
  type        = map(string)
  default     = {}
}
