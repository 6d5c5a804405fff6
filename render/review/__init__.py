"""Reviewing deployments: saved Terraform plans per function, and pictures of an FDL.

May import `render.terraform` (resource addresses) and `render.fdl` (the model).

- `plan`: a saved plan read and its resource changes grouped per function, per Batch compute
  profile, then shared storage and the rest of the root;
- `changes`: the review's shapes, one change per resource, its groups and their warnings;
- `warnings`: what deserves a second look: stopped jobs, lost data, widened permissions;
- `iam`: the permissions a change grants that were not granted before;
- `report`: a review as text for the terminal or as Markdown for a pull request comment;
- `diagram`: a deployment's functions, buckets, triggers and Batch queues as Mermaid or DOT.
"""
