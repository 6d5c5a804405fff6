"""faas-render's runtime: runs a function's script for an event in AWS Lambda or AWS Batch.

Nothing is imported here so the Lambda handler stays fast to import. Entry points:

- ``lambda_function``: ``lambda_handler``, the Lambda entry point of the zip and of the image, in
  the modes ``lambda``, ``lambda-batch`` and ``batch``;
- ``__main__``: ``python -m faas_supervisor``, what the frozen supervisor runs: the Runtime API
  loop in a Lambda image, the job otherwise;
- ``runtime_api``: the Lambda Runtime API loop, the supervisor as the entry point of an image;
- ``batch_job``: the AWS Batch job, with the same staging, run and upload code as Lambda.

What they run:

- ``events``: an incoming event turned into work items (S3 notifications, API Gateway, direct
  invocations);
- ``execute``: one work item: its input staged, the script run, the outputs uploaded when it
  exits 0;
- ``staging``: files moved between S3 and the work dir, one code path for Lambda and Batch;
- ``launch``: the command line that runs the user's script, or the image's own command;
- ``runner``: the user's command run in its own session, with an optional deadline, and nothing
  left running after it;
- ``environment``: the environment the user script runs with;
- ``batch_submit``: an event submitted to AWS Batch (``batch`` mode, ``lambda-batch`` delegation);
- ``image``: container images assembled at the registry API level (the image builder).

What they share:

- ``contract``: the runtime contract between faas-render and the supervisor, defined once;
- ``config``: function_config.json, its shape (``FunctionConfig``), read here and written by the
  renderer;
- ``credentials``: other accounts' S3 keys, read at run time from SSM;
- ``aws``: boto3 clients, created lazily with the one retry and timeout configuration;
- ``logs``: logging set-up and redaction, with secrets masked;
- ``errors``: the exceptions the supervisor raises, whose messages users read in the logs.
"""
