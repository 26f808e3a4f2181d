"""The notebooks run top to bottom on the small run the tests train, and are committed clean."""

import json
from pathlib import Path

import nbformat
import pytest
from conftest import compose_config
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_three_notebooks():
    assert [n.name for n in NOTEBOOKS] == ["01_quickstart.ipynb", "02_dataset.ipynb", "03_training.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path.name}: strip outputs"


@pytest.fixture(scope="module")
def evaluated_run(trained, tiny_root):
    """The tiny trained run, evaluated (03_training shows its worst cases)."""
    from evaluate import evaluate

    overrides, _ = trained
    evaluate(compose_config("evaluate", overrides))
    return tiny_root / "outputs" / "tiny"


@pytest.mark.slow  # about 35 s: a kernel a notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, evaluated_run, tiny_root, monkeypatch):
    monkeypatch.setenv("MATTING_RUN_DIR", str(evaluated_run))
    monkeypatch.setenv("MATTING_SHARDS_DIR", str(tiny_root / "data" / "shards" / "tiny"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # it drew its figures
