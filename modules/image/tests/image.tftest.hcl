# Offline tests of the image module against a mocked AWS provider:
#   terraform init && terraform test

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = { repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello/hello" }
  }
  mock_resource "aws_lambda_invocation" {
    defaults = { result = "{\"digest\": \"sha256:1111111111111111111111111111111111111111111111111111111111111111\"}" }
  }
  mock_data "aws_ecr_image" {
    defaults = { image_digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111" }
  }
}

variables {
  repository_name       = "hello/hello"
  builder_function_name = "hello-image-builder"
  base_image            = "alpine:3.20"
  entrypoint            = ["/opt/faas-render/bin/faas-supervisor"]
  layers = [{
    bucket  = "hello-artifacts"
    key     = "layers/2222.tar.gz"
    digest  = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
    diff_id = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
    size    = 1016
    comment = "function hello"
  }]
}

run "repository" {
  command = plan

  assert {
    condition     = aws_ecr_repository.this.force_delete && aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push
    error_message = "The repository must scan on push and be deleted with its images on destroy."
  }

  assert {
    condition     = length(jsondecode(aws_ecr_lifecycle_policy.this.policy).rules) == 3
    error_message = "The lifecycle policy must keep the image in use, expire untagged images and keep the newest tagged ones."
  }
}

# The image holds the functions' scripts and configuration: no other function of the account may
# have Lambda pull it.
run "only_the_functions_that_run_it_may_pull" {
  command = plan

  variables {
    lambda_function_names = ["hello"]
  }

  assert {
    condition = alltrue([
      for v in one(data.aws_iam_policy_document.lambda_pull[0].statement[0].condition).values :
      endswith(v, ":function:hello") || endswith(v, ":function:hello:*")
    ]) && length(one(data.aws_iam_policy_document.lambda_pull[0].statement[0].condition).values) == 2
    error_message = "The repository policy must name the function (and its qualified ARNs), nothing broader."
  }
}

run "an_image_only_batch_runs_has_no_repository_policy" {
  command = plan

  assert {
    condition     = length(aws_ecr_repository_policy.this) == 0
    error_message = "Batch pulls with its own roles: Lambda needs no grant."
  }
}

run "function_arns_are_refused" {
  command = plan

  variables {
    lambda_function_names = ["arn:aws:lambda:us-east-1:123456789012:function:hello"]
  }

  expect_failures = [var.lambda_function_names]
}

# ECR: an image matching a rule's tags cannot be expired by a lower-priority rule; images are
# expired by push time. A revert to inputs built long ago pushes nothing, so the image in use can
# be the oldest: only the first rule, selecting the tag the in_use step moves to it, keeps it.
run "the_image_in_use_never_expires" {
  command = apply

  assert {
    condition = one([
      for r in jsondecode(aws_ecr_lifecycle_policy.this.policy).rules : r
      if r.rulePriority == min([for x in jsondecode(aws_ecr_lifecycle_policy.this.policy).rules : x.rulePriority]...)
    ]).selection == { tagStatus = "tagged", tagPatternList = [jsondecode(aws_lambda_invocation.in_use.input).tag], countType = "imageCountMoreThan", countNumber = 1 }
    error_message = "The first rule must select exactly the tag put on the image in use, and expire nothing (a tag names one image)."
  }

  assert {
    condition     = !startswith(jsondecode(aws_lambda_invocation.in_use.input).tag, output.image_tag) && !can(regex("^faas-[0-9a-f]+$", jsondecode(aws_lambda_invocation.in_use.input).tag))
    error_message = "The in-use tag must never be a build's tag."
  }

  assert {
    condition = jsondecode(aws_lambda_invocation.in_use.input) == {
      action     = "tag"
      repository = "hello/hello"
      tag        = "faas-in-use"
      digest     = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
    }
    error_message = "The builder must be asked to tag the image the functions run, by its digest."
  }
}

run "tagged_once_the_consumers_run_it" {
  command = plan

  variables {
    in_use_by = ["arn:aws:lambda:us-east-1:123456789012:function:hello"]
  }

  assert {
    condition     = aws_lambda_invocation.in_use.triggers.in_use_by == jsonencode(["arn:aws:lambda:us-east-1:123456789012:function:hello"])
    error_message = "The in-use step must depend on the consumers, so that it runs after them."
  }
}

run "build" {
  command = apply

  assert {
    condition     = jsondecode(aws_lambda_invocation.build.input).repository == "hello/hello" && jsondecode(aws_lambda_invocation.build.input).base == "alpine:3.20"
    error_message = "The builder must be asked for the repository and the base."
  }

  assert {
    condition     = output.image_uri == "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello/hello@sha256:1111111111111111111111111111111111111111111111111111111111111111"
    error_message = "The image must be pinned by the digest read back from ECR."
  }

  assert {
    condition     = startswith(output.image_tag, "faas-") && length(output.image_tag) == 29
    error_message = "The tag must be faas- and a hash of the inputs."
  }
}

run "script_change_gives_a_new_tag" {
  command = plan

  variables {
    layers = [{
      bucket  = "hello-artifacts"
      key     = "layers/4444.tar.gz"
      digest  = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
      diff_id = "sha256:5555555555555555555555555555555555555555555555555555555555555555"
      size    = 1020
      comment = "function hello"
    }]
  }

  assert {
    condition     = output.image_tag != run.build.image_tag
    error_message = "Another layer must give another tag (and a new build)."
  }
}

run "one_base_only" {
  command = plan

  variables {
    base_archive = { bucket = "hello-artifacts", key = "bases/hello.tar" }
  }

  expect_failures = [aws_lambda_invocation.build]
}
