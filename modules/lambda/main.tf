locals {
  create_api_gateway = var.api_gateway != null
  is_image           = var.image_uri != null
}

################################################################################
# Log group (created here so that retention is managed and the function's role
# does not need logs:CreateLogGroup)
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer-managed KMS key is the caller's choice
  #checkov:skip=CKV_AWS_338:retention is log_retention_in_days (default 30 days, as SCAR), set by the caller
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_in_days

  tags = var.tags
}

################################################################################
# Function
################################################################################

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_50:X-Ray tracing costs per trace and needs xray:PutTraceSegments; the supervisor logs each run to CloudWatch
  #checkov:skip=CKV_AWS_115:reserved concurrency would cap throughput and take from the account pool; left to the caller
  #checkov:skip=CKV_AWS_116:no dead-letter queue: asynchronous failures go to the on-failure destination (aws_lambda_function_event_invoke_config), which keeps Lambda's whole record
  #checkov:skip=CKV_AWS_173:Lambda encrypts environment variables at rest with an AWS managed key; they hold no secrets (names and S3 locations)
  #checkov:skip=CKV_AWS_272:the package is built locally by faas-render from the FDL; there is no signing profile to verify
  function_name = var.function_name
  description   = var.description
  role          = var.role_arn
  memory_size   = var.memory_size
  timeout       = var.timeout
  architectures = var.architectures
  layers        = local.is_image ? null : var.layers

  # A zip on a managed runtime, or a container image pinned by digest (its entry point runs).
  package_type     = local.is_image ? "Image" : "Zip"
  image_uri        = var.image_uri
  filename         = var.filename
  source_code_hash = var.source_code_hash
  handler          = local.is_image ? null : var.handler
  runtime          = local.is_image ? null : var.runtime

  ephemeral_storage {
    size = var.ephemeral_storage_size
  }

  # Optional blocks are only emitted when set, so that an empty value does not
  # produce a perpetual diff.
  dynamic "environment" {
    for_each = length(var.environment) > 0 ? [var.environment] : []

    content {
      variables = environment.value
    }
  }

  dynamic "vpc_config" {
    for_each = var.vpc_config != null ? [var.vpc_config] : []

    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  dynamic "file_system_config" {
    for_each = var.file_system_config != null ? [var.file_system_config] : []

    content {
      arn              = file_system_config.value.arn
      local_mount_path = file_system_config.value.local_mount_path
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = (var.image_uri == null) != (var.filename == null)
      error_message = "Give either image_uri (a container image) or filename and source_code_hash (a zip), not both."
    }

    precondition {
      condition     = var.image_uri == null || length(var.layers) == 0
      error_message = "Lambda layers cannot be attached to a container image function: put their files in the image."
    }
  }

  depends_on = [aws_cloudwatch_log_group.this]
}

################################################################################
# Asynchronous invocations (S3 triggers, Event invokes): retries, maximum event
# age, and where an invocation that still fails is sent
################################################################################

resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.maximum_retry_attempts
  maximum_event_age_in_seconds = var.maximum_event_age_in_seconds

  dynamic "destination_config" {
    for_each = var.on_failure_destination_arn != null ? [var.on_failure_destination_arn] : []

    content {
      on_failure {
        destination = destination_config.value
      }
    }
  }
}

################################################################################
# Optional REST API (API Gateway v1) proxying every path and method to the
# function
################################################################################

resource "aws_api_gateway_rest_api" "this" {
  #checkov:skip=CKV_AWS_237:create_before_destroy would propagate to the fixed-id aws_lambda_permission, which cannot exist twice
  count = local.create_api_gateway ? 1 : 0

  name        = var.api_gateway.name
  description = "Proxy to the Lambda function ${var.function_name}"

  tags = var.tags
}

resource "aws_api_gateway_resource" "proxy" {
  count = local.create_api_gateway ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_rest_api.this[0].root_resource_id
  path_part   = "{proxy+}"
}

resource "aws_api_gateway_method" "proxy" {
  #checkov:skip=CKV_AWS_59:SCAR's API Gateway trigger is an open HTTP endpoint by design; put an authorizer or WAF in front to restrict it
  #checkov:skip=CKV2_AWS_53:a {proxy+} route passes every request to the function, which validates its own input
  count = local.create_api_gateway ? 1 : 0

  rest_api_id   = aws_api_gateway_rest_api.this[0].id
  resource_id   = aws_api_gateway_resource.proxy[0].id
  http_method   = "ANY"
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "proxy" {
  count = local.create_api_gateway ? 1 : 0

  rest_api_id             = aws_api_gateway_rest_api.this[0].id
  resource_id             = aws_api_gateway_resource.proxy[0].id
  http_method             = aws_api_gateway_method.proxy[0].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.this.invoke_arn
}

resource "aws_api_gateway_deployment" "this" {
  count = local.create_api_gateway ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id

  # Any change of the routed resources creates a new deployment.
  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.proxy[0].id,
      aws_api_gateway_method.proxy[0].id,
      aws_api_gateway_method.proxy[0].authorization,
      aws_api_gateway_integration.proxy[0].id,
      aws_api_gateway_integration.proxy[0].uri,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_api_gateway_integration.proxy]
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_73:X-Ray tracing is off, as for the function (cost); enable it in the caller if needed
  #checkov:skip=CKV_AWS_76:access logging needs an account-wide API Gateway CloudWatch role this module does not own
  #checkov:skip=CKV_AWS_120:responses of a function run must not be cached
  #checkov:skip=CKV2_AWS_4:execution logging needs the account-wide API Gateway CloudWatch role; the function logs every invocation
  #checkov:skip=CKV2_AWS_29:a WAF web ACL is an account-level choice of the caller (aws_wafv2_web_acl_association)
  #checkov:skip=CKV2_AWS_51:clients are arbitrary HTTP callers, as in SCAR; mutual TLS needs a custom domain
  count = local.create_api_gateway ? 1 : 0

  rest_api_id   = aws_api_gateway_rest_api.this[0].id
  deployment_id = aws_api_gateway_deployment.this[0].id
  stage_name    = var.api_gateway.stage_name

  tags = var.tags
}

resource "aws_lambda_permission" "api_gateway" {
  count = local.create_api_gateway ? 1 : 0

  statement_id  = "AllowExecutionFromAPIGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this[0].execution_arn}/*/*"
}
