"""``train.strategy=multi_worker`` for real: two worker processes on this machine (``TF_CONFIG``
on localhost ports, CPU) train the tiny coarse stage in step, only the chief writes the run's
files, and a pair killed inside an epoch resumes, both workers, at the saved step."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_pair(data_root: Path, out: Path, logs: list[Path], kill_at: int | None = None) -> list[int]:
    """Run the two workers to their end; returns their pids (worker 0, the chief, first)."""
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    procs = []
    try:
        for index, log in enumerate(logs):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            path = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
            env = {**os.environ, "TF_CONFIG": tf_config, "CUDA_VISIBLE_DEVICES": "-1",
                   "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": path}  # fmt: skip
            command = [
                sys.executable,
                str(ROOT / "tests" / "multi_worker_driver.py"),
                str(data_root),
                str(out),
                str(log),
            ]
            stream = open(log.with_suffix(".out"), "w")  # noqa: SIM115 (closed with the process)
            procs.append(subprocess.Popen(command + ([str(kill_at)] if kill_at else []), env=env, cwd=ROOT,
                                          stdout=stream, stderr=subprocess.STDOUT))  # fmt: skip
        for proc in procs:
            proc.wait(timeout=300)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    expected = -signal.SIGKILL if kill_at else 0
    for proc, log in zip(procs, logs, strict=True):
        assert proc.returncode == expected, log.with_suffix(".out").read_text()[-3000:]
    return [proc.pid for proc in procs]


def records(log: Path) -> list[tuple[str, int, str]]:
    return [
        (kind, int(step), digest)
        for kind, step, digest in (line.split() for line in log.read_text().splitlines())
    ]


def scratch() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("matting-worker*"))


@pytest.mark.slow
def test_two_workers_train_in_step_the_chief_writes_and_a_killed_pair_resumes(tiny_root, tmp_path):
    out, before = tmp_path / "coarse", scratch()
    first = [tmp_path / f"first{i}.log" for i in (0, 1)]
    first_pids = run_pair(
        tiny_root, out, first, kill_at=3
    )  # inside epoch 2 (3 steps each); a state at step 2
    chief, other = (records(log) for log in first)
    assert chief == other and [step for _, step, _ in chief] == [0, 1, 2, 3]  # the same weights each step
    assert json.loads((out / "backup" / "state.json").read_text())["step"] == 2
    (worker_scratch,) = scratch() - before  # the non-chief's saves: outside the run folder
    assert (worker_scratch / "state.json").is_file()

    second = [tmp_path / f"second{i}.log" for i in (0, 1)]
    pids = run_pair(tiny_root, out, second)
    chief, other = (records(log) for log in second)
    assert chief == other
    assert [(kind, step) for kind, step, _ in chief][:2] == [("begin", 2), ("step", 3)]  # resumed at step 2
    assert chief[0][2] == records(first[0])[2][2]  # with the weights of step 2
    assert [step for kind, step, _ in chief if kind == "step"] == [3, 4, 5, 6]

    # Only the chief wrote the run's files: the TensorBoard events are its own (their names end
    # ``.<pid>.<n>.v2``), and no scratch is left.
    writers = {
        re.search(r"\.(\d+)\.\d+\.v2$", path.name).group(1)
        for path in (out / "tensorboard").rglob("events.*")
    }
    assert writers == {str(first_pids[0]), str(pids[0])}
    assert (out / "coarse.keras").is_file() and (out / "config.yaml").is_file()
    assert not (out / "backup").exists() and scratch() == before
