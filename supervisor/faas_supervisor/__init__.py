"""faas-render's runtime: runs a function's script for an event in AWS Lambda or AWS Batch.

Entry points: ``faas_supervisor.lambda_function.lambda_handler`` (Lambda) and
``python -m faas_supervisor`` / the static binary (Batch). Nothing is imported here so the
Lambda handler stays fast to import.
"""

__version__ = "0.1.0"
