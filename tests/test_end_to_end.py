"""The whole chain on a tiny dataset: build -> train coarse -> train fine -> export -> evaluate,
through the same functions the scripts run, and the scripts' error handling."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, compose_config


def test_training_writes_checkpoints_config_and_logs(trained, tiny_root):
    _, results = trained
    run_dir = tiny_root / "outputs" / "tiny"
    for stage in ("coarse", "fine"):
        assert (run_dir / stage / f"{stage}.keras").is_file()
        assert (run_dir / stage / "config.yaml").is_file()
        assert list((run_dir / stage / "tensorboard").rglob("events.out.tfevents.*"))
        history = results[stage]["history"]
        assert len(history["loss"]) == 2 and all(math.isfinite(v) for v in history["loss"])
        assert "val_sad" in history and "val_mse" in history
        assert (run_dir / stage / f"{stage}_best.keras").is_file()  # lowest validation MSE
    from matting.inspection import read_scalars

    panels = read_scalars(run_dir / "fine" / "tensorboard" / "images")
    assert "images_per_second" in panels and len(panels["images_per_second"][0]) == 2
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "fine" / "tensorboard" / "images"), size_guidance={"tensors": 0})
    events.Reload()
    assert {"input", "coarse mask given", "prediction", "ground truth"} <= set(events.Tags()["tensors"])


def test_export_equals_the_in_process_pipeline_and_evaluation_scores_both(trained, tiny_root):
    import tensorflow as tf

    from evaluate import evaluate
    from export import export
    from matting.export import load_pipeline
    from matting.inference.pipeline import MattingPipeline

    overrides, _ = trained
    path = export(compose_config("export", overrides))
    cfg = compose_config("evaluate", overrides + [f"+exports.saved_model={path}"])
    live = MattingPipeline.from_checkpoints(
        cfg.coarse_checkpoint, cfg.fine_checkpoint, coarse_size=(32, 32), fine_size=(64, 64)
    )
    exported = load_pipeline("saved_model", path)
    rng = np.random.default_rng(0)
    for shape in [(96, 80, 3), (77, 131, 3), (8, 8, 3)]:
        image = rng.integers(0, 256, shape, np.uint8)
        a, b = live.predict(image), exported.predict(image)
        assert a.shape == shape[:2]
        assert np.abs(a - b).max() < 1e-4
    rgba = live.predict_rgba(image)
    assert rgba.dtype == np.uint8 and rgba.shape == (8, 8, 4)
    np.testing.assert_array_equal(rgba[..., :3], image)
    np.testing.assert_array_equal(rgba[..., 3], np.rint(live.predict(image) * 255).astype(np.uint8))
    # The serving signature of the raw SavedModel agrees too.
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    image = rng.integers(0, 256, (1, 40, 56, 3), np.uint8)
    served = signature(images=tf.constant(image, tf.float32) / 255.0)["alpha"].numpy()[0, ..., 0]
    assert np.abs(served - live.predict(image[0])).max() < 1e-4

    summaries = evaluate(cfg)
    out = tiny_root / "outputs" / "tiny" / "eval" / "test"
    for name in ("summary.json", "summary.md", "per_image.csv", "predictions.png"):
        assert (out / name).is_file()
    assert set(summaries) == {"trained", "trained, saved_model", "untrained"}
    for summary in summaries.values():
        assert summary["count"] == 6
        assert all(math.isfinite(summary[k]) for k in ("mse", "sad", "mad", "grad", "conn"))
    assert abs(summaries["trained"]["mse"] - summaries["trained, saved_model"]["mse"]) < 1e-6
    assert json.loads((out / "summary.json").read_text())["pipelines"]["trained"]["count"] == 6


def test_export_refuses_to_overwrite_without_the_flag(trained):
    from export import export
    from matting.errors import ConfigError

    overrides, _ = trained
    cfg = compose_config("export", overrides + ["out_dir=${paths.run_dir}/export/again"])
    first = Path(export(cfg))
    stamp = (first / "saved_model.pb").stat().st_mtime_ns
    with pytest.raises(ConfigError, match="overwrite=true"):
        export(cfg)
    assert (first / "saved_model.pb").stat().st_mtime_ns == stamp


def _run_script(script: str, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, script, *overrides], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    ("script", "overrides", "message"),
    [
        (
            "evaluate.py",
            ["coarse_checkpoint=/no/such/coarse.keras"],
            "/no/such/coarse.keras: no such checkpoint",
        ),
        ("train_coarse.py", ["data.shards_dir=/no/such/shards"], "/no/such/shards: no such dataset folder"),
        ("train_coarse.py", ["model.coarse.filters=[8,0]"], "filters must list"),
        (
            "train_coarse.py",
            ["model=unet", "model.coarse_size=[100,80]"],  # the U-Nets halve it three times
            "model.coarse_size must be two positive multiples of 8",
        ),
    ],
)
def test_scripts_report_user_errors_in_one_line(tmp_path, script, overrides, message):
    result = _run_script(script, f"paths.root_dir={tmp_path}", *overrides)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.stderr


def test_unknown_config_key_is_refused_by_hydra(tmp_path):
    result = _run_script("build_dataset.py", f"paths.root_dir={tmp_path}", "data.build.sizes=[8,8]")
    assert result.returncode != 0
    assert "sizes" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_checkpoints_are_not_run_at_other_sizes_than_trained(trained):
    from evaluate import evaluate
    from export import export
    from matting.errors import ConfigError

    overrides, _ = trained
    for run, script in ((evaluate, "evaluate"), (export, "export")):
        with pytest.raises(ConfigError, match=r"trained with model.fine_size=\[64, 64\]"):
            run(compose_config(script, [*overrides, "model.fine_size=[32,32]", "out_dir=/tmp/never"]))
