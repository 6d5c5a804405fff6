"""faas-render's runtime: runs a function's script for an event in AWS Lambda or AWS Batch.

Entry points: ``faas_supervisor.lambda_function.lambda_handler`` (the Lambda zip) and
``python -m faas_supervisor`` / the frozen supervisor (a Lambda image's entry point, serving the
Runtime API, or a Batch job). Nothing is imported here so the Lambda handler stays fast to import.
"""

__version__ = "0.1.0"
