"""predict.py: files and folders in, RGBA / alpha / composite PNGs out, bad files skipped."""

import cv2
import numpy as np
import pytest
from conftest import compose_config

from matting.data.composite import estimate_foreground
from matting.errors import DataError
from matting.inference.pipeline import MattingPipeline
from matting.io.images import read_alpha, read_image
from matting.predict import background_like
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
    assert "1 unreadable files skipped" in capsys.readouterr().out

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


def test_missing_input_is_a_clear_error(trained, tmp_path):
    overrides, _ = trained
    cfg = compose_config("predict", overrides + [f"input={tmp_path}/nothing.jpg"])
    with pytest.raises(DataError, match="nothing.jpg: no such file or folder"):
        predict(cfg)
