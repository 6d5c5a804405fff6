"""Terraform: from a `Deployment` to a root module on disk, and running Terraform in it.

May import `render.fdl`.

- `root_module`: a `Deployment` rendered into the files of a root module, main.tf and its
  artifacts;
- `hcl`: HCL output, one escaping rule for user strings, value formatting, `terraform fmt`
  alignment;
- `artifacts`: deterministic build artifacts (function configurations, Lambda zips, staged
  Batch files): the same inputs always give the same bytes;
- `images`: what the functions' images are built from, our layers and the builder's package;
- `ecr_names`: the images' ECR repository names, valid and distinct whatever the function names;
- `base_registries`: the registries and repositories the builder pulls bases from, for its grant;
- `supervisor_bundle`: the frozen supervisor of an architecture, shipped in the package;
- `output_dir`: writing the output directory all or nothing, never over files we did not write;
- `module_source`: where a root takes its modules from, copied next to main.tf, a registry or git;
- `assets`: where the root-module template and the shipped Terraform modules are;
- `run`: running Terraform, with an offline provider mirror when one is installed.
"""
