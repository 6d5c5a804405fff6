"""Reviewing deployments: saved Terraform plans per function, and pictures of an FDL.

Owns the plan review (plan) and the diagrams (diagram). May import `render.terraform` (resource
addresses) and `render.fdl` (the model).
"""
