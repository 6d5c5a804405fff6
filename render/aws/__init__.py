"""AWS access for `faas` and `faas-render`: connections with the AWS CLI's conventions, and what is deployed.

May import `render.fdl` and `render.terraform`; never the local emulator.

- `connection`: the boto3 session and client set, and whether the endpoint is the local emulator;
- `deployed`: a deployed function read back from AWS's public APIs (and the rendered root);
- `failures`: the failures a deployment kept, read from its queue (modules/failures);
- `bucket_notifications`: the notifications of existing buckets that applying a deployment would
  remove, found before `faas-render --plan/--apply` runs Terraform.
"""
