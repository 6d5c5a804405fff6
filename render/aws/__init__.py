"""AWS access for the `faas` commands: connections with the AWS CLI's conventions, and what is deployed.

Owns the boto3 session and client set (connection) and reading a deployed function back from
AWS's public APIs (deployed). May import `render.fdl` and `render.terraform`; never the local
emulator.
"""
