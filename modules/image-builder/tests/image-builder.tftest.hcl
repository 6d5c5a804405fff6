# Offline tests of the image-builder module against a mocked AWS provider:
#   terraform init && terraform test

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/hello-image-builder" }
  }
}

variables {
  function_name     = "hello-image-builder"
  filename          = "image-builder.zip"
  source_code_hash  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  repository_prefix = "hello/"
  artifacts_bucket  = "hello-artifacts"
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.handler == "faas_supervisor.image.builder.handler" && aws_lambda_function.this.timeout == 900
    error_message = "The builder runs the supervisor's image builder, with Lambda's longest timeout."
  }

  assert {
    condition     = local.repositories == "arn:aws:ecr:us-east-1:123456789012:repository/hello/*"
    error_message = "The builder may push only to the deployment's repositories."
  }
}

run "empty_prefix_is_refused" {
  command = plan

  variables {
    repository_prefix = ""
  }

  expect_failures = [var.repository_prefix]
}

# The bucket also holds staged events (user data) and the functions' packages.
run "reads_only_what_images_are_built_from" {
  command = plan

  assert {
    condition = one([for s in data.aws_iam_policy_document.this.statement : s.resources if s.sid == "ReadStagedLayers"]) == toset([
      "arn:aws:s3:::hello-artifacts/layers/*",
      "arn:aws:s3:::hello-artifacts/bases/*",
    ])
    error_message = "The builder may read the staged layers and base archives only."
  }
}

run "a_prefix_that_is_the_whole_bucket_is_refused" {
  command = plan

  variables {
    artifact_prefixes = [""]
  }

  expect_failures = [var.artifact_prefixes]
}

# Private ECR bases and an ECR pull-through cache: pulled from exactly their repositories, and only
# the cache's may be created and filled.
run "pulls_bases_from_exactly_their_ecr_repositories" {
  command = plan

  variables {
    base_repositories = [
      { account_id = "210987654321", region = "eu-west-1", name = "team/base" },
      { account_id = "123456789012", region = "us-east-1", name = "docker-hub/library/alpine", pull_through = true },
    ]
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.this.statement : s.resources if s.sid == "PullBases"]) == toset([
      "arn:aws:ecr:eu-west-1:210987654321:repository/team/base",
      "arn:aws:ecr:us-east-1:123456789012:repository/docker-hub/library/alpine",
    ])
    error_message = "The builder pulls from the bases' repositories only."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.this.statement : s.resources if s.sid == "FillPullThroughCache"]) == toset(["arn:aws:ecr:us-east-1:123456789012:repository/docker-hub/library/alpine"])
    error_message = "Only the pull-through cache's repositories may be created and filled."
  }
}

run "no_base_in_ecr_no_pull_grant" {
  command = plan

  assert {
    condition     = length([for s in data.aws_iam_policy_document.this.statement : s if contains(["PullBases", "FillPullThroughCache"], s.sid)]) == 0
    error_message = "Without bases in ECR the builder gets no pull grant beyond its own repositories."
  }
}

# faas-render sizes /tmp from the largest base archive (container.image_file).
run "ephemeral_storage_reaches_the_function" {
  command = plan

  variables {
    ephemeral_storage_size = 6144
  }

  assert {
    condition     = aws_lambda_function.this.ephemeral_storage[0].size == 6144
    error_message = "The builder's /tmp is ephemeral_storage_size MB."
  }
}

run "ephemeral_storage_beyond_lambda_is_refused" {
  command = plan

  variables {
    ephemeral_storage_size = 10241
  }

  expect_failures = [var.ephemeral_storage_size]
}
