data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # What the builder assembles; the tag is a hash of it, so the same inputs give the same tag
  # (and, the builder being deterministic, the same digest) and any change gives a new one.
  build = {
    architecture       = var.architecture
    base               = var.base_image
    base_archive       = var.base_archive
    credentials_secret = var.credentials_secret
    layers             = var.layers
    entrypoint         = var.entrypoint
    environment        = var.environment
  }
  tag = "faas-${substr(sha256(jsonencode(local.build)), 0, 24)}"

  # Names the image the functions run; never a build's tag (those are faas- and hexadecimal).
  in_use_tag = "faas-in-use"
}

################################################################################
# Repository
################################################################################

resource "aws_ecr_repository" "this" {
  #checkov:skip=CKV_AWS_51:tags must move: faas-in-use moves to each image the functions run (the lifecycle policy keeps it), and a build tag moves when the same inputs are rebuilt after the base's upstream tag moved
  #checkov:skip=CKV_AWS_136:ECR encrypts images at rest with AES-256 by default; a customer-managed KMS key is the caller's choice
  name                 = var.repository_name
  image_tag_mutability = "MUTABLE"

  # `terraform destroy` removes the images with the repository: they are rebuilt from the FDL.
  force_delete = true

  image_scanning_configuration {
    scan_on_push = true
  }

  tags = var.tags
}

# Lambda pulls the image itself: the repository must let it, for the functions that run the image
# and no other function of the account (the image holds their scripts and configuration). (The
# console adds such a statement when it creates a function; the API and Terraform do not.) Names,
# not the functions' ARNs: Lambda checks this policy when the function is created.
locals {
  function_arn_prefix = "arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function"
}

data "aws_iam_policy_document" "lambda_pull" {
  count = length(var.lambda_function_names) > 0 ? 1 : 0

  statement {
    sid     = "LambdaECRImageRetrievalPolicy"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    # The function, and its versions and aliases (NAME:QUALIFIER).
    condition {
      test     = "StringLike"
      variable = "aws:sourceArn"
      values   = flatten([for name in var.lambda_function_names : ["${local.function_arn_prefix}:${name}", "${local.function_arn_prefix}:${name}:*"]])
    }
  }
}

resource "aws_ecr_repository_policy" "this" {
  count = length(var.lambda_function_names) > 0 ? 1 : 0

  repository = aws_ecr_repository.this.name
  policy     = data.aws_iam_policy_document.lambda_pull[0].json
}

# The image the functions run carries the tag `faas-in-use` (moved to it by aws_lambda_invocation.in_use
# below, once they run it). Rule 1 selects that one image and expires nothing (one image is never
# "more than 1"), and ECR never lets a lower-priority rule expire an image that matches a
# higher-priority rule's tags: so rules 2 and 3 cannot expire the image in use, however old its
# push (a revert to earlier inputs finds its old tag and pushes nothing).
resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Never expire the image in use (tagged ${local.in_use_tag})"
        selection = {
          tagStatus      = "tagged"
          tagPatternList = [local.in_use_tag]
          countType      = "imageCountMoreThan"
          countNumber    = 1
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Remove untagged images after a day"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 1
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 3
        description  = "Keep the ${var.keep_images} newest images built by faas-render"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["faas-"]
          countType     = "imageCountMoreThan"
          countNumber   = var.keep_images
        }
        action = { type = "expire" }
      },
    ]
  })
}

################################################################################
# Build: the builder function copies the base's missing layers into the
# repository, uploads ours and pushes the manifest; it answers with the digest.
################################################################################

resource "aws_lambda_invocation" "build" {
  function_name = var.builder_function_name

  input = jsonencode(merge(local.build, {
    repository = aws_ecr_repository.this.name
    tag        = local.tag
    # Lambda runs the image: the builder applies its layer rules (gzip only, 10 GB) before pushing.
    lambda = length(var.lambda_function_names) > 0
  }))

  lifecycle {
    precondition {
      condition     = (var.base_image == null) != (var.base_archive == null)
      error_message = "Give exactly one of base_image and base_archive."
    }
  }
}

# Read back from ECR: the image exists, and its digest pins the functions that run it.
data "aws_ecr_image" "this" {
  repository_name = aws_ecr_repository.this.name
  image_digest    = jsondecode(aws_lambda_invocation.build.result).digest

  depends_on = [aws_ecr_repository_policy.this]
}

# Once every consumer (var.in_use_by: the functions and job definitions) runs this image, the
# builder moves the tag `faas-in-use` to it; the lifecycle policy never expires the image holding
# that tag. An apply that fails before then leaves the tag on the image they still run.
resource "aws_lambda_invocation" "in_use" {
  function_name = var.builder_function_name

  input = jsonencode({
    action     = "tag"
    repository = aws_ecr_repository.this.name
    tag        = local.in_use_tag
    digest     = data.aws_ecr_image.this.image_digest
  })

  # Orders this after the consumers' changes (and tags again when they change).
  triggers = { in_use_by = jsonencode(var.in_use_by) }
}
