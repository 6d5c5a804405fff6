"""faas-render: SCAR function definitions (FDL) in, Terraform root modules out.

One subpackage per subsystem; dependencies point one way, commands -> local/aws/review ->
terraform -> fdl (and every layer may use the runtime contract of `faas_supervisor`):

- `render.fdl`: FDL and config files in, a validated `Deployment` out;
- `render.terraform`: the root module, its artifacts, the output directory, running Terraform;
- `render.aws`: connections and what is deployed;
- `render.local`: the local emulator and the Lambda and Batch runners;
- `render.review`: plan review and diagrams;
- `render.commands`: the `faas` subcommands.

And the entry points on top of them:

- `render.main`: `render_fdl`, the library entry point that `faas-render` calls;
- `render.cli`: the `faas-render` command;
- `render.faas_cli`: the `faas` command, one subcommand per module of `render.commands`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("faas-render")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
