"""Checkpoint averaging: the mean of each weight over checkpoints of one architecture, written as a
run's stage folder with its config and a record of its inputs; foreign or repeated checkpoints
refused by name."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import compose_config

from average import average
from matting.errors import CheckpointError, ConfigError
from matting.layout import stage_files
from matting.models.averaging import AVERAGED_FILE, write_averaged
from matting.models.loading import load_checkpoint
from matting.models.pretrained import sha256


def shifted_copy(source: Path, folder: Path, shift: float) -> Path:
    """The checkpoint ``source`` with every weight plus ``shift``, saved to ``folder``."""
    model = load_checkpoint(source)
    model.set_weights([w + shift for w in model.get_weights()])
    folder.mkdir(parents=True)
    model.save(folder / source.name)
    return folder / source.name


def test_the_average_is_each_weights_mean_written_with_its_config_and_inputs(trained, tiny_root, tmp_path):
    run = stage_files(tiny_root / "outputs" / "tiny", "coarse")
    second = shifted_copy(run.last, tmp_path / "b", 1.0)
    third = shifted_copy(run.last, tmp_path / "c", 5.0)
    out = write_averaged([run.last, second, third], tmp_path / "soup" / "coarse", "coarse")
    assert out == tmp_path / "soup" / "coarse" / "coarse.keras"
    for mean, original in zip(
        load_checkpoint(out).get_weights(), load_checkpoint(run.last).get_weights(), strict=True
    ):
        np.testing.assert_allclose(mean, original + 2.0, rtol=1e-5, atol=1e-5)
    assert (out.parent / "config.yaml").read_text() == run.config.read_text()
    record = json.loads((out.parent / AVERAGED_FILE).read_text())
    assert record["stage"] == "coarse"
    assert [c["path"] for c in record["checkpoints"]] == [str(run.last), str(second), str(third)]
    assert record["checkpoints"][1]["sha256"] == sha256(second)

    with pytest.raises(ConfigError, match="exists; pass overwrite=true"):
        write_averaged([run.last, second], out.parent, "coarse")
    write_averaged([run.last, second], out.parent, "coarse", overwrite=True)
    for mean, original in zip(
        load_checkpoint(out).get_weights(), load_checkpoint(run.last).get_weights(), strict=True
    ):
        np.testing.assert_allclose(mean, original + 0.5, rtol=1e-5, atol=1e-5)


def test_foreign_repeated_or_single_checkpoints_and_a_folder_of_the_inputs_are_refused(
    trained, tiny_root, tmp_path
):
    coarse = stage_files(tiny_root / "outputs" / "tiny", "coarse").last
    fine = stage_files(tiny_root / "outputs" / "tiny", "fine").last
    out = tmp_path / "out"
    with pytest.raises(CheckpointError, match=f"{fine}: not the architecture of {coarse}"):
        write_averaged([coarse, fine], out, "coarse")
    with pytest.raises(CheckpointError, match="the same checkpoint given twice"):
        write_averaged([coarse, coarse], out, "coarse")
    with pytest.raises(CheckpointError, match="at least two checkpoints, got 1"):
        write_averaged([coarse], out, "coarse")
    with pytest.raises(CheckpointError, match="missing.keras: no such checkpoint"):
        write_averaged([coarse, tmp_path / "missing.keras"], out, "coarse")
    with pytest.raises(ConfigError, match="one of the checkpoints to average"):
        write_averaged(
            [coarse, shifted_copy(coarse, tmp_path / "b", 1.0)], coarse.parent, "coarse", overwrite=True
        )
    assert not out.exists()  # nothing half-written


def test_the_script_writes_the_named_runs_stage(trained, tiny_root, tmp_path):
    coarse = stage_files(tiny_root / "outputs" / "tiny", "coarse").last
    second = shifted_copy(coarse, tmp_path / "b", 2.0)
    cfg = compose_config(
        "average", [f"paths.root_dir={tmp_path}", "name=soup", f"checkpoints=[{coarse},{second}]"]
    )
    path = Path(average(cfg))
    assert path == stage_files(tmp_path / "outputs" / "soup", "coarse").last
    assert load_checkpoint(path).count_params() == load_checkpoint(coarse).count_params()
    with pytest.raises(ConfigError, match="checkpoints must be a list of .keras files, got None"):
        average(compose_config("average", ["name=x"]))
    with pytest.raises(ConfigError, match="stage must be one of"):
        average(compose_config("average", ["name=x", "stage=both", f"checkpoints=[{coarse},{second}]"]))


def test_a_release_of_an_averaged_net_says_what_it_is_the_mean_of(trained, tiny_root, tmp_path):
    from matting.release import release

    run = tiny_root / "outputs" / "tiny"
    coarse = stage_files(run, "coarse").last
    soup = tmp_path / "soup"
    write_averaged([coarse, shifted_copy(coarse, tmp_path / "b", 1.0)], soup / "coarse", "coarse")
    shutil.copytree(run / "fine", soup / "fine")
    rows = [{"id": "p0", "iou": 0.9, "mse": 0.01, "ms": 1.0}]
    peers = tmp_path / "peers.json"
    peers.write_text(
        json.dumps({"held_out": True, "masks": {"people": {"coarse stage (ours)": rows}}, "alpha": {}})
    )
    out = release(soup, peers, tmp_path / "released", "{figures}")
    assert (out / "coarse" / AVERAGED_FILE).read_text() == (soup / "coarse" / AVERAGED_FILE).read_text()
    assert not (out / "fine" / AVERAGED_FILE).exists()
