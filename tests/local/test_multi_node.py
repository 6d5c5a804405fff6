"""`faas local` runs a multi-node parallel Batch job as one sandboxed instance of its image per node.

A real `faas local` process gets a `batch` function whose job definition is a 3-node one
(tests/local/image_deployment.py); `faas put` runs it. Every node runs the supervisor, which
downloads the input, runs the script and uploads what it wrote; the script picks its role from
Batch's node variables and the other nodes connect to the main one at the address they are given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from faas_supervisor import contract

from tests.helpers import aws_variables, run_faas
from tests.local.faas_local import FaasLocal, faas_local
from tests.local.image_deployment import Deployment

pytestmark = pytest.mark.slow

BUCKET = "local-nodes"
NODES = 3
# The main node (0) takes one message from each other node on port 5000 + its index (`nc -l` takes
# one connection at a time, so the others retry until it listens), waiting up to 2 minutes for each
# (a node's script starts only after its supervisor fetched the input, slow on a loaded machine).
# An input named *fail* makes the main node fail at once, and the others are then stopped.
SCRIPT = """\
i=$AWS_BATCH_JOB_NODE_INDEX
out="$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH" .txt)-node-$i.txt"
echo "node $i of $AWS_BATCH_JOB_NUM_NODES, main $AWS_BATCH_JOB_MAIN_NODE_INDEX at ${AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS:-self}" > "$out"
if [ "$i" = "$AWS_BATCH_JOB_MAIN_NODE_INDEX" ]; then
  case "$INPUT_FILE_PATH" in *fail*) echo "main node refusing" >&2; exit 3;; esac
  n=0  # a port per node: two senders on one listener could both be accepted, one of them unread
  while [ "$n" -lt "$AWS_BATCH_JOB_NUM_NODES" ]; do
    [ "$n" = "$i" ] || timeout 120 nc -l -p $((5000 + n)) >> "$out"; n=$((n + 1))
  done
  sleep 3  # the job ends with its main node (the others are stopped then, as on AWS): let theirs upload
else
  # From a file, not a pipe: the main node's nc, its input empty, closes its side at once, and a nc
  # reading a pipe that echo has not written yet would take that end for the whole exchange.
  echo "hello from node $i" > /tmp/message
  until timeout 5 nc "$AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS" $((5000 + i)) < /tmp/message; do
    sleep 0.2
  done
fi
"""


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, frozen_supervisor: Path) -> Iterator[FaasLocal]:
    work = tmp_path_factory.mktemp("local-nodes")
    with faas_local(work) as running:
        deployment = Deployment(running.endpoint, frozen_supervisor, work, BUCKET)
        deployment.setup()
        deployment.function("mpi", SCRIPT, batch=True, nodes=NODES)
        with pytest.MonkeyPatch.context() as patch:
            for name, value in aws_variables(running.endpoint).items():
                patch.setenv(name, value)
            yield running


def put(tmp_path: Path, name: str) -> tuple[int, str, str]:
    (tmp_path / name).write_text("input\n")
    result = run_faas("put", "mpi", str(tmp_path / name))
    job = re.search(r"\[mpi\] Batch job (\S+) running", result.err)
    assert job, result.err
    return result.code, result.err, job.group(1)


def test_every_node_runs_the_script_with_its_node_variables_and_reaches_the_main_node(
    local: FaasLocal, tmp_path: Path
) -> None:
    code, err, job_id = put(tmp_path, "data.txt")
    assert code == 0, err
    s3 = local.client("s3")
    written = {
        index: s3.get_object(Bucket=BUCKET, Key=f"out-mpi/data-node-{index}.txt")["Body"].read().decode()
        for index in range(NODES)
    }
    main = written[0].splitlines()
    assert main[0] == f"node 0 of {NODES}, main 0 at self"
    assert sorted(main[1:]) == [f"hello from node {index}" for index in range(1, NODES)]  # they reached it
    for index in range(1, NODES):
        assert re.fullmatch(rf"node {index} of {NODES}, main 0 at \d+\.\d+\.\d+\.\d+\n", written[index])
        assert f"[mpi]   wrote s3://{BUCKET}/out-mpi/data-node-{index}.txt" in err
        assert re.search(rf"\[mpi\] Batch job {job_id} node {index}: succeeded in ", err), err  # each node's progress
    assert f"[mpi] Batch job {job_id} succeeded" in err and f"{NODES} object(s) written" in err
    described = local.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]
    assert (described["status"], described["container"]["exitCode"]) == ("SUCCEEDED", 0)
    assert described["createdAt"] <= described["startedAt"] <= described["stoppedAt"]

    events = local.client("logs").filter_log_events(logGroupName=contract.BATCH_LOG_GROUP)["events"]
    messages = [event["message"] for event in events]
    for index in range(NODES):  # one log for the job, each line naming its node
        assert any(m.startswith(f"node {index}: ") and f"node {index} of {NODES} (main node 0)" in m for m in messages)
        assert any(m.startswith(f"node {index}: ended: succeeded in ") for m in messages), messages


def test_the_job_follows_its_main_node_and_faas_job_names_the_failed_node(local: FaasLocal, tmp_path: Path) -> None:
    code, err, job_id = put(tmp_path, "fail.txt")
    assert code == 1, err
    assert re.search(rf"\[mpi\] Batch job {job_id} node 0: FAILED \(exit status 3\)", err), err
    for index in range(1, NODES):  # still waiting for the main node: Batch stops them when it ends
        assert f"[mpi] Batch job {job_id} node {index}: stopped: the main node ended the job" in err
    assert f"[mpi] Batch job {job_id} FAILED (exit status 3)" in err

    described = local.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]  # the job follows its main node
    reason = "Essential container in task exited (failed node(s): 0)"
    assert (described["status"], described["statusReason"], described["container"]["exitCode"]) == (
        "FAILED",
        reason,
        3,
    )
    job = run_faas("job", job_id)
    assert job.code == 0, job.err
    assert f"status:     FAILED ({reason})" in job.out and "exit code:  3" in job.out, job.out
    assert "node 0: main node refusing" in job.out
    assert re.search(r"node 0: ended: FAILED \(exit status 3\) after [\d.]+ s", job.out), job.out
