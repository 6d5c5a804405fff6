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
