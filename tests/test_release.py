"""A release: a run's checkpoints as weights alone, its configs, its held-out figures and a card made
from them; the scripts read it as a run. The committed model finds the person in a real photo."""

import json
import shutil
import zipfile
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from conftest import compose_config

from matting.errors import ConfigError
from matting.layout import stage_files
from matting.models.loading import load_checkpoint
from matting.release import FIGURES_FILE, release

ROOT = Path(__file__).resolve().parents[1]
RELEASED = ROOT / "pretrained" / "portrait"


def peers_payload(held_out=True) -> dict:
    ours, peer = "coarse stage (ours)", "MediaPipe Selfie Segmentation"
    rows = lambda *ious: [{"id": f"p{i}", "iou": v, "mse": 1 - v, "ms": 1.0} for i, v in enumerate(ious)]  # noqa: E731
    alpha = {"id": "GT01", "mse": 0.002, "sad": 5.0, "mse_band": 0.02, "sad_band": 4.0, "s": 0.1}
    return {
        "held_out": held_out,
        "masks": {"portraits": {ours: rows(0.8, 0.9), peer: rows(0.7, 0.9)}},
        "alpha": {"true mask -> refinement (ours)": [alpha]},
    }


def saved_weight_groups(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as file, h5py.File(file) as h5:
        return set(h5.keys())


def test_a_release_holds_the_runs_weights_configs_and_figures_made_into_a_card(trained, tiny_root):
    run_dir = tiny_root / "outputs" / "tiny"
    peers = tiny_root / "peers.json"
    peers.write_text(json.dumps(peers_payload()))
    out = release(run_dir, peers, tiny_root / "released", "# card\n\n{figures}\n")
    for stage in ("coarse", "fine"):
        ours, theirs = stage_files(out, stage), stage_files(run_dir, stage)
        assert "optimizer" in saved_weight_groups(theirs.last)  # the run's checkpoint: for resuming
        assert "optimizer" not in saved_weight_groups(ours.last)  # the release: weights alone
        for a, b in zip(
            load_checkpoint(ours.last).weights, load_checkpoint(theirs.last).weights, strict=True
        ):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert ours.config.read_text() == theirs.config.read_text()
        stage_card = (ours.folder / "README.md").read_text()
        assert (
            f"`{stage}.keras`" in stage_card and "`outputs/tiny`" in stage_card and "Licences:" in stage_card
        )
    again = release(run_dir, peers, tiny_root / "again", "# card\n\n{figures}\n")
    for stage in ("coarse", "fine"):  # the same run released again: the same bytes
        assert stage_files(again, stage).last.read_bytes() == stage_files(out, stage).last.read_bytes()
    figures = json.loads((out / FIGURES_FILE).read_text())
    assert figures["masks"]["portraits"]["coarse stage (ours)"] == {"iou": 0.85, "mse": 0.15, "photos": 2}
    card = (out / "README.md").read_text()
    assert "| portraits | coarse stage (ours) | 2 | 0.850 | 0.1500 |" in card
    assert "| true mask -> refinement (ours) | 1 | 0.0020 | 5.00 | 0.0200 | 4.00 |" in card

    peers.write_text(json.dumps(peers_payload(held_out=False)))
    with pytest.raises(ConfigError, match="not on held-out photos"):
        release(run_dir, peers, tiny_root / "released", "{figures}")
    other = {**peers_payload(), "checkpoints": {"coarse": str(tiny_root / "elsewhere" / "coarse.keras")}}
    peers.write_text(json.dumps(other))
    with pytest.raises(ConfigError, match="scored .*elsewhere/coarse.keras, not the coarse checkpoint"):
        release(run_dir, peers, tiny_root / "released", "{figures}")
    # A release that fails half-written (a stage without its config) leaves the last one whole.
    broken = tiny_root / "broken_run"
    shutil.copytree(run_dir, broken)
    (broken / "fine" / "config.yaml").unlink()
    peers.write_text(json.dumps(peers_payload()))
    with pytest.raises(FileNotFoundError):
        release(broken, peers, tiny_root / "released", "{figures}")
    assert (out / "README.md").read_text() == card
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".released")) == []


@pytest.mark.skipif(not (RELEASED / "coarse" / "coarse.keras").is_file(), reason="no released model yet")
def test_the_released_model_finds_the_person_in_a_real_photo_through_the_pipeline():
    from matplotlib import cbook

    from cli_common import checkpoints
    from matting.export import load_pipeline

    # Grace Hopper's portrait, shipped with matplotlib: head and shoulders in uniform, a flag and sky.
    image = cv2.cvtColor(
        cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))), cv2.COLOR_BGR2RGB
    )
    cfg = compose_config("predict", ["input=unused.jpg"])
    alpha = load_pipeline("keras", None, **checkpoints(cfg)).predict(image)
    height, width = alpha.shape
    person = alpha > 0.5
    assert alpha.shape == image.shape[:2]
    assert person[height // 3 : height * 2 // 3, width * 2 // 5 : width * 3 // 5].mean() > 0.95  # face
    assert person[-height // 5 :, width // 4 : width * 3 // 4].mean() > 0.9  # the uniform's chest
    assert person[: height // 10, -width // 10 :].mean() < 0.05  # the sky behind her
    assert 0.3 < person.mean() < 0.8


@pytest.mark.skipif(not (RELEASED / "coarse" / "coarse.keras").is_file(), reason="no released model yet")
@pytest.mark.parametrize("stage", ["coarse", "fine"])
def test_finetune_starts_from_the_released_nets_whatever_the_configs_widths(stage):
    from matting.data.stages import make_stage
    from matting.training.fit import initialise

    cfg = compose_config(f"train_{stage}", ["experiment=finetune"])
    built = make_stage(stage, model=plain_model(cfg)).build_net()
    net = initialise(built, cfg.train.init_from, cfg.train.freeze_encoder)
    released = load_checkpoint(stage_files(RELEASED, stage).last)
    for a, b in zip(net.weights, released.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not any(layer.trainable for layer in net.layers if layer.name.startswith("enc") and layer.weights)


def plain_model(cfg) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg.model, resolve=True)
