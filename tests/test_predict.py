"""predict.py: files and folders in, RGBA / alpha / composite PNGs out, bad files skipped."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import compose_config

from matting.data.composite import estimate_foreground
from matting.errors import DataError
from matting.inference.pipeline import MattingPipeline
from matting.io.images import read_alpha, read_image
from matting.predict import background_like, predict_files
from predict import predict


def test_estimated_foreground_has_no_halo_of_the_old_background():
    h, w = 40, 40
    alpha = np.tile(np.linspace(0.0, 1.0, w), (h, 1))  # a soft left-to-right edge
    red, green = np.array([0.9, 0.1, 0.1]), np.array([0.1, 0.8, 0.1])
    image = (alpha[..., None] * red + (1 - alpha[..., None]) * green) * 255
    fg = estimate_foreground(np.rint(image).astype(np.uint8), alpha)
    soft = (alpha > 0.2) & (alpha < 0.8)
    # The naive foreground (the photo itself) is half green there; the estimate stays red.
    assert np.abs(image[soft] / 255 - red).max() > 0.3
    assert np.abs(fg[soft] - red).max() < 0.05


def test_background_colour_and_bad_colour():
    np.testing.assert_allclose(background_like([0, 255, 51], (2, 3))[1, 2], [0, 1, 0.2])
    with pytest.raises(DataError, match="RGB colour"):
        background_like([0, 300, 0], (2, 3))


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.jpg"), rng.integers(0, 256, (60, 50, 3), np.uint8))
    cv2.imwrite(str(folder / "gray.png"), rng.integers(0, 256, (30, 41), np.uint8))
    cv2.imwrite(str(folder / "deep.png"), rng.integers(0, 65536, (33, 20, 3), np.uint16))
    cv2.imwrite(str(folder / "rgba.png"), rng.integers(0, 256, (25, 25, 4), np.uint8))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff truncated")
    return folder


def test_folder_run_writes_outputs_and_skips_unreadable_files(trained, photos, tmp_path, capsys):
    overrides, _ = trained
    out = tmp_path / "out"
    cfg = compose_config("predict", overrides + [f"input={photos}", f"out_dir={out}", "background=[0,0,255]"])
    result = predict(cfg)
    assert result["written"] == 4
    assert [s["path"].rsplit("/", 1)[1] for s in result["skipped"]] == ["broken.jpg"]
    assert f"skipped: {photos / 'broken.jpg'}: not a readable image" in capsys.readouterr().out
    assert result["summary"] == f"4 written, 1 skipped (see {out / 'skipped.csv'})"

    pipeline = MattingPipeline.from_checkpoints(
        cfg.coarse_checkpoint, cfg.fine_checkpoint, coarse_size=(32, 32), fine_size=(64, 64)
    )
    image = read_image(photos / "a.jpg")
    alpha = read_alpha(out / "a_alpha.png")
    np.testing.assert_array_equal(alpha, np.rint(pipeline.predict(image) * 255).astype(np.uint8))
    rgba = cv2.imread(str(out / "a_rgba.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (60, 50, 4)
    np.testing.assert_array_equal(rgba[..., 3], alpha)
    on_bg = read_image(out / "a_on_bg.png")
    transparent = alpha < 3
    if transparent.any():  # where alpha is ~0 the new background shows: blue
        assert on_bg[transparent][:, 2].min() > 240
    for stem, shape in [("gray", (30, 41)), ("deep", (33, 20)), ("rgba", (25, 25))]:
        assert read_alpha(out / f"{stem}_alpha.png").shape == shape


def test_a_failure_at_any_step_is_a_counted_skip_and_the_run_goes_on(photos, tmp_path, monkeypatch):
    """Matting, foreground estimation and writing fail for one file each: three skips that say at
    which step and why, the other file written, and what was written before a failure kept."""
    import matting.predict as predict_module

    def backend(x):
        if x.shape[1:3] == (30, 41):  # gray.png
            raise RuntimeError("backend exploded")
        return np.full((*x.shape[:3], 1), 0.5, np.float32)

    def estimate(image, alpha):
        if image.shape[:2] == (33, 20):  # deep.png
            raise ZeroDivisionError("division by zero")
        return image / 255.0

    monkeypatch.setattr(predict_module, "estimate_foreground", estimate)
    out = tmp_path / "out"
    (out / "rgba_rgba.png").mkdir(parents=True)  # a folder where rgba.png's second output goes
    files = sorted(photos.glob("*.*"))
    result = predict_module.predict_files(MattingPipeline(backend), files, str(out))
    reasons = {Path(s["path"]).name: s["reason"] for s in result["skipped"]}
    assert result["written"] == 1 and (out / "a_rgba.png").is_file()
    assert "gray.png: matting the 41x30 image failed (RuntimeError: backend exploded)" in reasons["gray.png"]
    assert (
        "deep.png: foreground estimation of the 20x33 image failed (ZeroDivisionError" in reasons["deep.png"]
    )
    assert "rgba.png: writing failed (IsADirectoryError" in reasons["rgba.png"]
    assert set(reasons) == {"gray.png", "deep.png", "rgba.png", "broken.jpg"}
    assert read_alpha(out / "rgba_alpha.png").shape == (25, 25)  # written before the failure: kept


def test_same_stems_are_not_overwritten_and_a_bad_background_fails_first(photos, tmp_path):
    cv2.imwrite(str(photos / "a.png"), np.zeros((5, 5, 3), np.uint8))  # beside a.jpg: a_*.png is taken
    pipeline = MattingPipeline(lambda x: np.zeros((*x.shape[:3], 1), np.float32))
    result = predict_files(
        pipeline, [photos / "a.jpg", photos / "a.png"], str(tmp_path), estimate_foreground_colours=False
    )
    assert result["written"] == 1 and read_alpha(tmp_path / "a_alpha.png").shape == (60, 50)
    assert "a.png: its outputs would overwrite those of" in result["skipped"][0]["reason"]
    with pytest.raises(DataError, match="broken.jpg: not a readable image"):
        predict_files(pipeline, [photos / "a.jpg"], str(tmp_path), background=str(photos / "broken.jpg"))


def test_missing_input_is_a_clear_error(trained, tmp_path):
    overrides, _ = trained
    cfg = compose_config("predict", overrides + [f"input={tmp_path}/nothing.jpg"])
    with pytest.raises(DataError, match="nothing.jpg: no such file or folder"):
        predict(cfg)
