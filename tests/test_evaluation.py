"""Evaluation on folders (with trimaps), worst-case grids, refine_from, the coarse-stage report."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import compose_config

from evaluate import evaluate
from matting.errors import ConfigError, DataError
from matting.evaluation.report import summary_table
from matting.evaluation.samples import load_folder_arrays
from matting.evaluation.scoring import mask_iou, score, summarize, worst
from matting.inference.pipeline import MattingPipeline

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def constant_pipeline(value: float) -> MattingPipeline:
    """A pipeline whose backend predicts ``value`` everywhere (no module: an 'exported' one)."""
    return MattingPipeline(lambda x: np.full((*x.shape[:3], 1), value, np.float32))


def write_folder(root: Path, count: int = 3, size=(40, 32)) -> Path:
    rng = np.random.default_rng(0)
    for sub in ("image", "alpha", "trimap"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        alpha = np.zeros(size, np.uint8)
        alpha[10:, 8:24] = 255
        trimap = np.where(alpha > 0, 255, 0).astype(np.uint8)
        trimap[8:12, :] = 128
        cv2.imwrite(str(root / "image" / f"im{i}.png"), rng.integers(0, 256, (*size, 3), np.uint8))
        cv2.imwrite(str(root / "alpha" / f"im{i}.png"), alpha)
        cv2.imwrite(str(root / "trimap" / f"im{i}.png"), trimap)
    return root


def test_folder_layout_with_trimaps_is_scored_over_the_given_unknown_region(tmp_path):
    root = write_folder(tmp_path)
    samples, skipped = load_folder_arrays(root / "image", root / "alpha", root / "trimap")
    assert len(samples) == 3 and not skipped
    rows, _ = score(constant_pipeline(0.0), samples)
    # Predicting 0 everywhere: the error is 1 on the person (16 x 30 px of 32 x 40) and 0 elsewhere.
    assert rows[0]["mse"] == pytest.approx(16 * 30 / (32 * 40))
    assert rows[0]["sad"] == pytest.approx(16 * 30 / 1000)
    # The trimap's unknown band is rows 8-11: 2 rows of 16 person pixels (rows 10, 11) of 4 x 32.
    assert rows[0]["mse_unknown"] == pytest.approx(2 * 16 / (4 * 32))
    assert summarize(rows)["count"] == 3


def test_unreadable_unpaired_or_mismatched_images_are_skipped(tmp_path):
    root = write_folder(tmp_path)
    (root / "image" / "im1.png").write_bytes(b"garbage")
    (root / "alpha" / "im2.png").unlink()
    samples, skipped = load_folder_arrays(root / "image", root / "alpha")
    assert [s["id"] for s in samples] == ["im0"]
    reasons = " | ".join(s["reason"] for s in skipped)
    assert len(skipped) == 2
    assert "no alpha named im2" in reasons and "im1.png: not a readable image" in reasons
    cv2.imwrite(str(root / "alpha" / "im2.png"), np.zeros((5, 5), np.uint8))
    samples, skipped = load_folder_arrays(root / "image", root / "alpha")
    assert [s["id"] for s in samples] == ["im0"]
    assert f"{root}/alpha/im2.png: alpha is 5x5 but {root}/image/im2.png is 32x40" in skipped[-1]["reason"]
    cv2.imwrite(str(root / "alpha" / "im0.png"), np.zeros((5, 5), np.uint8))
    with pytest.raises(DataError, match="no image with a readable alpha"):
        load_folder_arrays(root / "image", root / "alpha")


def test_worst_orders_by_the_metric():
    rows = [{"mse": 0.1}, {"mse": 0.5}, {"mse": 0.3}]
    assert worst(rows, 2) == [1, 2]


def test_summary_table_has_the_header_the_readme_quotes_and_four_decimals():
    summary = {"mse": 0.012345, "sad": 12.0, "mad": 0.1, "grad": 3.0, "conn": 4.0, "mse_unknown": 0.5}
    lines = summary_table({"trained": summary}, title="test split").splitlines()
    assert lines[0] == "### test split" and lines[2].startswith("Whole image unless marked; SAD:")
    assert lines[4:] == [
        "| pipeline | MSE | SAD | MAD | Grad | Conn | MSE (unknown) |",
        "|---|---|---|---|---|---|---|",
        "| trained | 0.0123 | 12.0000 | 0.1000 | 3.0000 | 4.0000 | 0.5000 |",
    ]


def test_mask_iou_thresholds_both_masks_at_one_half():
    mask = np.array([[0.6, 0.4], [0.9, 0.0]])
    truth = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert mask_iou(mask, truth) == pytest.approx(1 / 3)  # 1 pixel in both, 3 in either
    assert mask_iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0


def test_refine_from_gt_mask_needs_the_checkpoints(tmp_path):
    samples, _ = load_folder_arrays(write_folder(tmp_path) / "image", tmp_path / "alpha")
    with pytest.raises(ConfigError, match="model_format=keras"):
        score(constant_pipeline(0.5), samples, refine_from="gt_mask")
    with pytest.raises(ConfigError, match="refine_from"):
        score(constant_pipeline(0.5), samples, refine_from="oracle")


def test_folder_evaluation_with_coarse_report_and_gt_mask(trained, tmp_path):
    overrides, _ = trained
    root = write_folder(tmp_path / "data", count=4)
    common = overrides + [
        f"folder={{images: {root}/image, alphas: {root}/alpha, trimaps: {root}/trimap}}",
        f"coarse_folder={{images: {root}/image, masks: {root}/alpha}}",
        "worst_rows=2",
    ]
    summaries = evaluate(compose_config("evaluate", common + [f"out_dir={tmp_path}/a"]))
    assert summaries["trained"]["count"] == 4
    assert 0.0 <= summaries["coarse stage"]["iou"] <= 1.0
    assert (tmp_path / "a" / "worst.png").is_file()
    assert list((tmp_path / "a" / "tensorboard").glob("events.out.tfevents.*"))
    assert "Coarse stage" in (tmp_path / "a" / "summary.md").read_text()
    worst_png = cv2.imread(str(tmp_path / "a" / "worst.png"))
    predictions_png = cv2.imread(str(tmp_path / "a" / "predictions.png"))
    assert worst_png.shape[0] < predictions_png.shape[0]  # 2 rows against 4

    oracle = evaluate(compose_config("evaluate", common + [f"out_dir={tmp_path}/b", "refine_from=gt_mask"]))
    assert oracle["trained"]["mse"] != summaries["trained"]["mse"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent (outside this workplace)")
def test_shared_preset_scores_real_photos(trained, tmp_path):
    overrides, _ = trained
    extra = ["experiment=shared_eval", "max_images=3", f"out_dir={tmp_path}", f"paths.shared_dir={SHARED}"]
    # The tiny run trained on synthetic data only: its splits.json lists none of the real photos.
    extra += [f"{key}.source=null" for key in ("folder", "coarse_folders.portraits", "coarse_folders.people")]
    summaries = evaluate(compose_config("evaluate", overrides + extra))
    assert summaries["trained"]["count"] == 3
    assert np.isfinite(summaries["trained"]["mse"]) and 0 <= summaries["coarse stage, portraits"]["iou"] <= 1
    assert summaries["coarse stage, people"]["count"] == 3
    assert "never trained on this folder" in (tmp_path / "summary.md").read_text()
