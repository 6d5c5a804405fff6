"""Build the command line that runs the user's script: directly, or in the image via udocker."""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

# Passed into udocker containers besides the script's own variables, so the script can use AWS.
UDOCKER_PASSTHROUGH = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_LAMBDA_FUNCTION_NAME",
)


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    description: str  # for logs: never contains variable values


def direct(
    script: Path | None,
    command: Sequence[str],
    base_env: Mapping[str, str],
    script_env: Mapping[str, str],
) -> Launch:
    """`/bin/sh <script>`, or `command` (the image's own) when the config has no script."""
    if script is not None:
        argv = ["/bin/sh", str(script)]
    elif command:
        argv = list(command)
    else:
        raise ConfigError("the function has no script and no command was given: nothing to run")
    return Launch(argv, {**base_env, **script_env}, " ".join(shlex.quote(a) for a in argv))


def udocker_path() -> str | None:
    return shutil.which("udocker")


def _container_name(image: str) -> str:
    return "faas-" + re.sub(r"[^A-Za-z0-9_.-]", "_", image)[:100]


def via_udocker(
    udocker: str,
    image: str,
    script: Path | None,
    workdir: Path,
    base_env: Mapping[str, str],
    script_env: Mapping[str, str],
) -> Launch:
    """One `sh -c` that prepares the container once per Lambda instance, then runs it.

    Keeping pull/create/setup in the same process group as the run means the deadline, the
    kill and the stderr tail cover them too. The udocker container is kept in UDOCKER_DIR
    (default /tmp/shared/udocker) across warm invocations, as SCAR did.
    """
    name = _container_name(image)
    q = shlex.quote
    env = dict(base_env)
    env.setdefault("UDOCKER_DIR", "/tmp/shared/udocker")
    passed = {k: base_env[k] for k in UDOCKER_PASSTHROUGH if k in base_env}
    passed.update(script_env)
    run = [q(udocker), "--quiet", "run", "--nosysdirs"]
    volumes = [str(workdir), "/dev", "/proc", "/etc/hosts"]
    if script is not None:
        volumes.append(str(script.parent))
    run += [f"-v {q(v)}" for v in dict.fromkeys(volumes)]
    run.append(f"--workdir={q(str(workdir))}")
    run += [q(f"--env={k}={v}") for k, v in passed.items()]
    if script is not None:
        run += ["--entrypoint=/bin/sh", q(name), q(str(script))]
    else:
        run.append(q(name))
    u = q(udocker)
    shell = (
        f'mkdir -p "$UDOCKER_DIR" && '
        f"{{ {u} inspect {q(name)} >/dev/null 2>&1 || "
        f"{{ {u} pull {q(image)} && {u} create --name={q(name)} {q(image)} && "
        f"{u} setup --execmode=F1 {q(name)}; }}; }} || exit 125\n"
        f"exec {' '.join(run)}"
    )
    what = f"udocker image {image} ({'script ' + script.name if script else 'image command'})"
    return Launch(["/bin/sh", "-c", shell], env, what)
