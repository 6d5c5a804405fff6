"""Local mode: the AWS emulator on loopback, and running deployed functions here as AWS would.

Owns the moto-based emulator (emulator), the service that runs what uploads trigger and what
Invoke asks for (service, invocations), the emulator's ECR storage and the registry view it serves
(ecr, ecr_blobs, registry), the workflow loop from an event to everything it chains (cloud), and
the Lambda and Batch runners (lambda_runner for .zip functions with its child-process bootstrap,
image_lambda for image functions, batch_runner, process), and the images they run in
(deployed_images reads them back from the emulator's ECR, rootfs and root_fd unpack them, sandbox
runs them without a container daemon, runtime_api and image_runner serve them as Lambda does).
May import `render.aws`, `render.terraform` and `render.fdl`.
"""
