"""Run Terraform in a rendered root, and find an offline provider mirror when one is installed."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from python_terraform import Terraform

MIRROR_VARIABLE = "FAAS_RENDER_PROVIDER_MIRROR"
# Places where a filesystem mirror of providers usually lives (Terraform's own implied
# locations, and /opt for machines provisioned with one).
MIRROR_CANDIDATES = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/opt/terraform/plugins",
    "/opt/tf-plugins",
)


class TerraformFailed(Exception):
    def __init__(self, step: str, code: int) -> None:
        super().__init__(f"terraform {step} failed (exit status {code})")
        self.code = code


def find_provider_mirror(candidates: Iterable[str] = MIRROR_CANDIDATES) -> Path | None:
    """The folder holding registry.terraform.io/hashicorp/aws, from $FAAS_RENDER_PROVIDER_MIRROR or a known place."""
    configured = os.environ.get(MIRROR_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if (path / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return path
    return None


def cli_config_for(mirror: Path) -> str:
    return f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'


def terraform_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for terraform: keep the user's CLI config, else point at a mirror if there is one."""
    env = dict(os.environ if environ is None else environ)
    current = env.get("TF_CLI_CONFIG_FILE")
    if current and Path(current).is_file():
        return env
    if current is None and Path("~/.terraformrc").expanduser().is_file():
        return env
    mirror = find_provider_mirror()
    if mirror:
        config = Path(tempfile.gettempdir()) / f"faas-render-{os.getuid()}.tfrc"
        config.write_text(cli_config_for(mirror))
        env["TF_CLI_CONFIG_FILE"] = str(config)
    return env


def run_steps(directory: Path, steps: list[str], secrets: dict[str, str] | None = None) -> None:
    """Run init/plan/apply/destroy in order, streaming terraform's own output.

    `secrets` (TF_VAR_* variables) reach terraform's environment and nothing else: python-terraform
    passes a copy of os.environ, so they are in os.environ only while the steps run.
    """
    if not shutil.which("terraform"):
        raise TerraformFailed("(not found on PATH: install Terraform >= 1.5)", 127)
    os.environ.update(terraform_environment())
    secrets = secrets or {}
    saved = {name: os.environ.get(name) for name in secrets}
    os.environ.update(secrets)
    try:
        _run(directory, steps)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run(directory: Path, steps: list[str]) -> None:
    tf = Terraform(working_dir=str(directory))
    arguments = {
        "init": ["-input=false"],
        "plan": ["-input=false"],
        "apply": ["-input=false", "-auto-approve"],
        "destroy": ["-input=false", "-auto-approve"],
    }
    for step in steps:
        print(f"==> terraform {step} in {directory}", file=sys.stderr, flush=True)
        # Only the generic cmd() works on current Terraform: apply()/destroy() pass removed flags.
        code, _, _ = tf.cmd(step, *arguments[step], capture_output=False)
        if code != 0:
            raise TerraformFailed(step, code)
