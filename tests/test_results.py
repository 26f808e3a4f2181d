"""docs/results.md is generated from the JSON the runs write (matting.evaluation.results): the tiny
end-to-end run's evaluation, a peers.py run on tiny folders, and an export_speed.py run."""

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import compose_config
from test_heldout_eval import peers_args, write_shared

from matting.evaluation.results import GENERATED, main, results_page, section, summarise_peers

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def evaluated(trained, tmp_path_factory) -> Path:
    """evaluate.py on the tiny end-to-end run: its summary.json."""
    from evaluate import evaluate

    overrides, _ = trained
    out = tmp_path_factory.mktemp("eval")
    evaluate(compose_config("evaluate", overrides + [f"out_dir={out}"]))
    return out / "summary.json"


@pytest.fixture(scope="module")
def peers_json(tmp_path_factory) -> Path:
    """benchmarks/peers.py on tiny folders (fresh nets, no splits): its peers.json."""
    tmp = tmp_path_factory.mktemp("peers")
    shared = write_shared(tmp / "shared")
    runpy.run_path(str(ROOT / "benchmarks" / "peers.py"))["main"](peers_args(shared, tmp / "out"))
    return tmp / "out" / "peers.json"


def test_the_page_is_made_from_the_runs_json_with_each_runs_command(evaluated, peers_json, tmp_path):
    out = main(["--out", str(tmp_path / "results.md"), str(peers_json), str(evaluated)])
    page = out.read_text()
    assert page.startswith("# Results\n\n" + GENERATED)
    peers, evaluation = json.loads(peers_json.read_text()), json.loads(evaluated.read_text())
    for run in (peers["run"], evaluation["run"]):  # each section says where its figures come from
        assert f"Measured {run['date']} on {run['machine']}: `{run['command']}`" in page
    # The figures are the JSON's: the coarse stage's mean IoU on the portraits, the trained MSE.
    figures = summarise_peers(peers)
    ours = figures["masks"]["portraits"]["coarse stage (ours)"]
    assert (
        f"| portraits | coarse stage (ours) | {ours['photos']} | {ours['iou']:.3f} | {ours['mse']:.4f} |"
        in page
    )
    assert f"| trained | {evaluation['pipelines']['trained']['mse']:.4f} |" in page
    assert "**Not held out: the run's training photos are included.**" in page  # no --splits
    # A release's figures.json (the summary) gives the same tables as the peers.json it came from.
    summary = tmp_path / "figures.json"
    summary.write_text(json.dumps(figures))
    assert section(summary).split("\n", 1)[1] == section(peers_json).split("\n", 1)[1]


def test_a_file_of_another_kind_is_refused_naming_it(tmp_path):
    other = tmp_path / "other.json"
    other.write_text('{"loss": 0.1}')
    with pytest.raises(ValueError, match="other.json: not a results file"):
        results_page([other])


@pytest.mark.slow
def test_export_speed_writes_the_json_the_page_reads(tmp_path):
    figures = tmp_path / "export_speed.json"
    args = ["--arch", "fast", "--size", "48", "40", "--coarse-size", "32", "32", "--fine-size", "64", "64"]
    done = subprocess.run(
        [sys.executable, "benchmarks/export_speed.py", *args, "--repeats", "1", "--json", str(figures)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    payload = json.loads(figures.read_text())
    assert [f["format"] for f in payload["formats"]][:2] == ["keras (in-process)", "SavedModel"]
    page = results_page([figures])
    assert "## Speed of every export format" in page and payload["run"]["command"] in page
    assert (
        sum(line.startswith("|") for line in page.splitlines()) == len(payload["formats"]) + 2
    )  # header, rule, rows


def test_docs_results_md_is_what_the_committed_json_makes():
    """No figure of docs/results.md is typed: `make results` makes it again, the same."""
    from matting.evaluation.results import SOURCES

    page = ROOT / "docs" / "results.md"
    missing = [s for s in SOURCES if not (ROOT / s).is_file()]
    assert not missing, f"results files missing: {missing}"
    assert results_page(list(SOURCES), root=ROOT) == page.read_text(), (
        "run `make results`, commit docs/results.md"
    )
