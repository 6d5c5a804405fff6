# Offline tests of the lambda module against a mocked AWS provider:
#   terraform init && terraform test

mock_provider "aws" {}

variables {
  function_name    = "frame-stats"
  role_arn         = "arn:aws:iam::123456789012:role/frame-stats"
  filename         = "frame-stats.zip"
  source_code_hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/frame-stats" && aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "The function's log group must be created here, with a retention."
  }

  assert {
    condition     = length(aws_lambda_function.this.environment) == 0 && length(aws_lambda_function.this.vpc_config) == 0
    error_message = "Empty environment and vpc_config must not produce blocks (perpetual diffs)."
  }

  assert {
    condition     = length(aws_api_gateway_rest_api.this) == 0 && length(aws_lambda_permission.api_gateway) == 0
    error_message = "No API Gateway without api_gateway."
  }

  assert {
    condition     = aws_lambda_function.this.handler == "faas_supervisor.lambda_function.lambda_handler" && aws_lambda_function.this.runtime == "python3.12"
    error_message = "The supervisor's handler and a current runtime are the defaults."
  }
}

run "api_gateway" {
  command = plan

  variables {
    environment = { FAAS_EXECUTION_MODE = "lambda" }
    api_gateway = { name = "frame-stats", stage_name = "scar" }
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables == tomap({ FAAS_EXECUTION_MODE = "lambda" })
    error_message = "The environment must be passed to the function."
  }

  assert {
    condition     = aws_api_gateway_resource.proxy[0].path_part == "{proxy+}" && aws_api_gateway_method.proxy[0].http_method == "ANY"
    error_message = "The REST API must proxy every path and method."
  }

  assert {
    condition     = aws_api_gateway_integration.proxy[0].type == "AWS_PROXY" && aws_api_gateway_stage.this[0].stage_name == "scar"
    error_message = "The REST API must use a Lambda proxy integration deployed to the stage."
  }

  assert {
    condition     = aws_lambda_permission.api_gateway[0].principal == "apigateway.amazonaws.com"
    error_message = "API Gateway must be allowed to invoke the function."
  }
}

run "environment_limit" {
  command = plan

  variables {
    environment = { BIG = join("", [for i in range(1000) : "xxxxx"]) }
  }

  expect_failures = [var.environment]
}

# {"BIG":"..."} is the value and 10 bytes: 4096 bytes are accepted, 4097 refused (the names and
# values alone, 4093, would pass a sum of lengths).
run "environment_limit_at_4096_bytes_of_json" {
  command = plan

  variables {
    environment = { BIG = format("%04086d", 0) }
  }
}

run "environment_limit_above_4096_bytes_of_json" {
  command = plan

  variables {
    environment = { BIG = format("%04087d", 0) }
  }

  expect_failures = [var.environment]
}

run "container_image" {
  command = plan

  variables {
    filename         = null
    source_code_hash = null
    image_uri        = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello/hello@sha256:1111111111111111111111111111111111111111111111111111111111111111"
    architectures    = ["arm64"]
  }

  assert {
    condition     = aws_lambda_function.this.package_type == "Image" && aws_lambda_function.this.handler == null && aws_lambda_function.this.runtime == null
    error_message = "An image function has no handler and no runtime: its entry point serves the Runtime API."
  }

  assert {
    condition     = aws_lambda_function.this.architectures == tolist(["arm64"])
    error_message = "The function's architecture must be the image's."
  }
}

run "image_uri_must_be_ecr" {
  command = plan

  variables {
    filename         = null
    source_code_hash = null
    image_uri        = "alpine:3.20"
  }

  expect_failures = [var.image_uri]
}

run "zip_or_image_not_both" {
  command = plan

  variables {
    image_uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello/hello@sha256:1111111111111111111111111111111111111111111111111111111111111111"
  }

  expect_failures = [aws_lambda_function.this]
}

run "asynchronous_invocations_default_to_lambdas_and_send_failures" {
  command = plan

  variables {
    on_failure_destination_arn = "arn:aws:sqs:us-east-1:123456789012:video-process-failures"
  }

  assert {
    condition     = aws_lambda_function_event_invoke_config.this.maximum_retry_attempts == 2 && aws_lambda_function_event_invoke_config.this.maximum_event_age_in_seconds == 21600
    error_message = "Lambda's own defaults: two retries, six hours."
  }

  assert {
    condition     = aws_lambda_function_event_invoke_config.this.destination_config[0].on_failure[0].destination == "arn:aws:sqs:us-east-1:123456789012:video-process-failures"
    error_message = "Failed asynchronous invocations go to the on-failure destination."
  }
}

run "no_destination_no_block" {
  command = plan

  variables {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = 60
  }

  assert {
    condition     = length(aws_lambda_function_event_invoke_config.this.destination_config) == 0 && aws_lambda_function_event_invoke_config.this.maximum_retry_attempts == 0
    error_message = "Without a destination there is no destination_config block."
  }
}

run "retry_attempts_limit" {
  command = plan

  variables {
    maximum_retry_attempts = 3
  }

  expect_failures = [var.maximum_retry_attempts]
}

run "event_age_limit" {
  command = plan

  variables {
    maximum_event_age_in_seconds = 59
  }

  expect_failures = [var.maximum_event_age_in_seconds]
}
