"""After importing matting, TensorFlow starts quietly where it is first imported: its CPU-machine
start-up notices are dropped, every other line written meanwhile goes through."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_TENSORFLOW = """
import ast
import os
os.write(2, b"I0000 00:00:1 cudart_stub.cc:31] Could not find cuda drivers on your machine.\\n")
os.write(2, b"E0000 00:00:2 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\\n")
os.write(2, b"a real problem the import reported\\n")
class config:
    @staticmethod
    def list_physical_devices(kind):
        os.write(2, b"E0000 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\\n")
        return []
"""


def run_import(tmp_path: Path, fake: bool, **env) -> subprocess.CompletedProcess:
    path = [str(ROOT)]
    if fake:
        (tmp_path / "tensorflow").mkdir(exist_ok=True)
        (tmp_path / "tensorflow" / "__init__.py").write_text(FAKE_TENSORFLOW)
        path.insert(0, str(tmp_path))
    unset = ("TF_CPP_MIN_LOG_LEVEL", "MATTING_TF_STARTUP_LOGS")
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment.update(PYTHONPATH=os.pathsep.join(path), **env)
    return subprocess.run(
        [sys.executable, "-c", "import matting, tensorflow"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def test_start_up_notices_are_dropped_and_other_lines_kept(tmp_path):
    done = run_import(tmp_path, fake=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "a real problem the import reported\n"
    # With the variable set, matting leaves TensorFlow's start to the user's own import: all shown.
    path = os.pathsep.join([str(tmp_path), str(ROOT)])
    environment = {**os.environ, "PYTHONPATH": path, "MATTING_TF_STARTUP_LOGS": "1"}
    shown = subprocess.run(
        [sys.executable, "-c", "import matting, tensorflow"], capture_output=True, text=True, env=environment,
        timeout=300,
    )  # fmt: skip
    assert shown.returncode == 0 and "cudart_stub.cc:31] Could not find cuda drivers" in shown.stderr


def test_the_real_tensorflow_starts_without_cuda_notices(tmp_path):
    done = run_import(tmp_path, fake=False)
    assert done.returncode == 0, done.stderr
    assert "cuInit" not in done.stderr and "cudart_stub" not in done.stderr, done.stderr


def test_importing_matting_leaves_tensorflow_unloaded(tmp_path):
    """Settings read as TensorFlow loads (train.onednn's TF_ENABLE_ONEDNN_OPTS) still apply after it."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, matting.io.images; print('tensorflow' in sys.modules)"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


TENSORFLOW = ("tensorflow", "keras", "tf2onnx", "tf_keras")


@pytest.mark.parametrize("script", sorted([*ROOT.glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]), ids=str)
def test_every_script_imports_matting_before_tensorflow(script):
    """A script whose own imports load TensorFlow before matting would start with the notices."""
    for node in ast.parse(script.read_text()).body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            tops = {name.split(".")[0] for name in names}
            if tops & {"matting", "cli_common"}:
                return
            assert not tops & set(TENSORFLOW), (
                f"{script.name} imports {tops & set(TENSORFLOW)} before matting"
            )
