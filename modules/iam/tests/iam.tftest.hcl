# Offline tests of the iam module against a mocked AWS provider:
#   terraform init && terraform test
# The statements are read from the aws_iam_policy_document data sources'
# arguments, which the mock keeps as configured.

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
}

variables {
  name                = "video-split"
  create_job_role     = true
  input_locations     = [{ bucket = "media", key_prefix = "input" }]
  output_locations    = [{ bucket = "media", key_prefix = "frames" }]
  artifacts_bucket    = "media-artifacts"
  job_queue_arn       = "arn:aws:batch:us-east-1:123456789012:job-queue/media-ec2"
  job_definition_name = "video-split"
}

run "submit_job_scoped_to_queue_and_job_definition" {
  command = plan

  assert {
    condition = one([for s in data.aws_iam_policy_document.lambda[0].statement : s if s.sid == "SubmitBatchJobs"]).resources == toset([
      "arn:aws:batch:us-east-1:123456789012:job-queue/media-ec2",
      "arn:aws:batch:us-east-1:123456789012:job-definition/video-split",
      "arn:aws:batch:us-east-1:123456789012:job-definition/video-split:*",
    ])
    error_message = "batch:SubmitJob must be allowed on exactly the job queue and the function's job definition."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.lambda[0].statement : s if s.sid == "SubmitBatchJobs"]).actions == toset(["batch:SubmitJob"])
    error_message = "The Batch statement must allow batch:SubmitJob only."
  }

  assert {
    condition     = !contains(flatten([for s in data.aws_iam_policy_document.lambda[0].statement : tolist(s.actions)]), "logs:CreateLogGroup")
    error_message = "The lambda module creates the log group: the role must not create log groups."
  }
}

run "s3_access_is_exactly_the_prefixes" {
  command = plan

  assert {
    condition     = one([for s in data.aws_iam_policy_document.data_access.statement : s if s.sid == "ReadInputs"]).resources == toset(["arn:aws:s3:::media/input/*"])
    error_message = "Reads must be limited to the input prefix."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.data_access.statement : s if s.sid == "WriteOutputs"]).resources == toset(["arn:aws:s3:::media/frames/*"])
    error_message = "Writes must be limited to the output prefix."
  }

  assert {
    condition     = toset(one(one([for s in data.aws_iam_policy_document.data_access.statement : s if s.sid == "ListInputs0"]).condition).values) == toset(["input", "input/*"])
    error_message = "ListBucket must be limited to the input prefix."
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.job[0].statement : s if s.sid == "ReadFunctionArtifacts"]).resources == toset([
      "arn:aws:s3:::media-artifacts/functions/video-split/*",
      "arn:aws:s3:::media-artifacts/events/video-split/*",
    ])
    error_message = "The job role reads only the function's own artifacts and staged events."
  }
}

run "given_lambda_role_creates_none" {
  command = plan

  variables {
    lambda_role_arn = "arn:aws:iam::123456789012:role/existing"
    create_job_role = false
    job_queue_arn   = null
  }

  assert {
    condition     = length(aws_iam_role.lambda) == 0 && length(aws_iam_role.job) == 0
    error_message = "No role may be created when the Lambda role is given and no job role is asked for."
  }

  assert {
    condition     = output.lambda_role_arn == "arn:aws:iam::123456789012:role/existing"
    error_message = "The given role must be passed through."
  }
}

run "queue_needs_job_definition" {
  command = plan

  variables {
    job_definition_name = null
  }

  expect_failures = [data.aws_iam_policy_document.lambda]
}

run "storage_credentials_are_readable_by_name_only" {
  command = plan

  variables {
    credentials_parameters = ["/faas-render/media/storage/s3.partner", "partner-keys"]
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.data_access.statement : s if s.sid == "ReadStorageCredentials"]).resources == toset([
      "arn:aws:ssm:us-east-1:123456789012:parameter/faas-render/media/storage/s3.partner",
      "arn:aws:ssm:us-east-1:123456789012:parameter/partner-keys",
    ])
    error_message = "The roles must read exactly the named parameters."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.data_access.statement : s if s.sid == "ReadStorageCredentials"]).actions == toset(["ssm:GetParameter"])
    error_message = "Reading a parameter needs ssm:GetParameter and nothing more."
  }
}

run "no_credentials_no_ssm_access" {
  command = plan

  assert {
    condition     = length([for s in data.aws_iam_policy_document.data_access.statement : s if s.sid == "ReadStorageCredentials"]) == 0
    error_message = "Without credentials parameters the roles get no SSM access."
  }
}

run "credentials_parameters_are_names" {
  command = plan

  variables {
    credentials_parameters = ["arn:aws:ssm:us-east-1:123456789012:parameter/x"]
  }

  expect_failures = [var.credentials_parameters]
}

run "bucket_keys_are_usable_exactly" {
  command = plan

  variables {
    kms_key_arns = [
      "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
    ]
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.data_access.statement : s if s.sid == "UseBucketKeys"]).resources == toset([
      "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
    ])
    error_message = "The roles may use exactly the buckets' keys."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.data_access.statement : s if s.sid == "UseBucketKeys"]).actions == toset(["kms:Decrypt", "kms:GenerateDataKey"])
    error_message = "Reading needs kms:Decrypt, writing kms:GenerateDataKey."
  }
}

run "no_bucket_keys_no_kms_access" {
  command = plan

  assert {
    condition     = length([for s in data.aws_iam_policy_document.data_access.statement : s if s.sid == "UseBucketKeys"]) == 0
    error_message = "Without kms_key_arns there is no KMS statement."
  }
}

run "bucket_keys_are_key_arns" {
  command = plan

  variables {
    kms_key_arns = ["arn:aws:kms:us-east-1:123456789012:alias/data"]
  }

  expect_failures = [var.kms_key_arns]
}

run "failures_go_to_exactly_the_queue" {
  command = plan

  variables {
    failure_queue_arn = "arn:aws:sqs:us-east-1:123456789012:video-process-failures"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.lambda[0].statement : s if s.sid == "SendFailures"]).resources == toset(["arn:aws:sqs:us-east-1:123456789012:video-process-failures"])
    error_message = "The Lambda role may send its failures to exactly the failures queue."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.lambda[0].statement : s if s.sid == "SendFailures"]).actions == toset(["sqs:SendMessage"])
    error_message = "The failures statement allows sqs:SendMessage only."
  }
}

run "no_failure_queue_no_sqs_access" {
  command = plan

  assert {
    condition     = length([for s in data.aws_iam_policy_document.lambda[0].statement : s if s.sid == "SendFailures"]) == 0
    error_message = "Without a failure queue the role has no SQS access."
  }
}
