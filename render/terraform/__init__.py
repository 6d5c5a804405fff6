"""Terraform: from a `Deployment` to a root module on disk, and running Terraform in it.

Owns the root-module template's rendering (root_module, hcl), the deterministic build artifacts
(artifacts: Lambda zips, staged Batch files, the supervisor binary), writing the output directory
all or nothing (output_dir), where modules come from (module_source, assets), and running
Terraform with an offline provider mirror when there is one (run). May import `render.fdl`.
"""
