"""container.environment: deployed in the Lambda function's environment or the job definition's, never in an image.

Lambda keeps its environment encrypted at rest; an image layer (in ECR) or the staged configuration
(in S3) would hold the values in plain text. The supervisor's configuration names the variables only.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from render.fdl.lambda_environment import LAMBDA_ENV_LIMIT, environment_size
from tests.helpers import render

SECRET = "s3cr3t-value-0123456789"
FDL = """\
functions:
  aws:
  - lambda:
      name: f1
      execution_mode: {mode}
      init_script: run.sh
      container:
        image: alpine
        environment:
          Variables:
            {key}: "{value}"
      environment:
        Variables:
          SHARED: "{shared}"
      input:
      - storage_provider: s3
        path: bucket-one/in
      output:
      - storage_provider: s3
        path: bucket-one/out
    batch:
      compute_resources:
        subnets: [subnet-0123456789abcdef0]
        security_group_ids: [sg-0123456789abcdef0]
"""


def write(tmp_path: Path, mode: str, key: str = "TOKEN", value: str = SECRET, shared: str = "one") -> Path:
    source = tmp_path / "fdl.yaml"
    source.write_text(FDL.format(mode=mode, key=key, value=value, shared=shared))
    (tmp_path / "run.sh").write_text("echo hi\n")
    return source


def file_contents(root: Path) -> dict[str, bytes]:
    """Every file the renderer wrote, with the members of its layer archives read out."""
    contents = {}
    for path in root.rglob("*"):
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path) as layer:
                for member in layer.getmembers():
                    if member.isfile() and (data := layer.extractfile(member)):
                        contents[f"{path}:{member.name}"] = data.read()
        elif path.is_file():
            contents[str(path)] = path.read_bytes()
    return contents


@pytest.mark.parametrize("mode", ["lambda", "lambda-batch", "batch"])
def test_values_are_deployed_by_terraform_and_only_names_are_packaged(mode: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert render(write(tmp_path, mode), out) == 0
    contents = file_contents(out)
    holding = sorted(name for name, data in contents.items() if SECRET.encode() in data)
    assert holding == [str(out / "main.tf")]
    configs = [json.loads(data) for name, data in contents.items() if name.endswith("function_config.json")]
    assert configs, sorted(contents)
    for config in configs:
        assert config["container"]["environment_from"] == {"TOKEN": "TOKEN"}
    main_tf = (out / "main.tf").read_text()
    # Once in the Lambda function's environment where it runs the script, once in the job definition's.
    expected = {"lambda": 1, "lambda-batch": 2, "batch": 1}[mode]
    assert main_tf.count(f'= "{SECRET}"') == expected, main_tf


@pytest.mark.parametrize("over", [0, 1])
@pytest.mark.parametrize("mode", ["lambda", "batch"])
def test_the_script_variables_count_towards_lambdas_4_kb_where_lambda_runs_the_script(
    mode: str, over: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    room = LAMBDA_ENV_LIMIT - environment_size({"SHARED": "one", "TOKEN": ""})
    status = render(write(tmp_path, mode, value="x" * (room + over)), tmp_path / "out")
    err = capsys.readouterr().err
    # A batch function's Lambda only submits jobs: the values go to the job definition alone.
    refused = bool(over) and mode == "lambda"
    assert status == (2 if refused else 0), err
    assert ("the Lambda environment would be 4097 bytes as JSON" in err) == refused, err


def test_a_name_in_both_environments_needs_one_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert render(write(tmp_path, "lambda", key="SHARED", value="two"), tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert (
        "fdl.yaml:11: functions.aws[0].lambda.container.environment.Variables.SHARED: SHARED is also in "
        "lambda.environment.Variables with another value" in err
    ), err
    assert not (tmp_path / "out").exists()
    assert render(write(tmp_path, "lambda", key="SHARED", value="one"), tmp_path / "same") == 0


@pytest.mark.parametrize("mode", ["lambda", "lambda-batch", "batch"])
def test_names_lambda_reserves_travel_under_a_prefix(mode: str, tmp_path: Path) -> None:
    """SCAR's aws-cli example gives its script AWS keys: Lambda refuses the names, and in a job the
    supervisor would take them as its own credentials."""
    out = tmp_path / "out"
    assert render(write(tmp_path, mode, key="AWS_ACCESS_KEY_ID"), out) == 0
    main_tf = (out / "main.tf").read_text()
    assert f'"FAAS_CONTAINER_AWS_ACCESS_KEY_ID" = "{SECRET}"' in main_tf.replace("  ", ""), main_tf
    assert '"AWS_ACCESS_KEY_ID"' not in main_tf
    contents = file_contents(out)
    configs = [json.loads(data) for name, data in contents.items() if name.endswith("function_config.json")]
    assert [config["container"]["environment_from"] for config in configs] == [
        {"AWS_ACCESS_KEY_ID": "FAAS_CONTAINER_AWS_ACCESS_KEY_ID"}
    ] * len(configs)
