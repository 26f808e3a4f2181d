"""predict.py: files and folders in, RGBA / alpha / composite PNGs out, bad files skipped."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import compose_config

from matting.data.composite import estimate_foreground
from matting.errors import ConfigError, DataError
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


def write_masked_folder(root: Path, sizes=((40, 32), (36, 48))) -> Path:
    """``image/`` photos, ``alpha/`` soft true alphas and ``mask/`` their binary masks (alpha > 0.5)."""
    rng = np.random.default_rng(3)
    for sub in ("image", "alpha", "mask"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, (h, w) in enumerate(sizes):
        alpha = np.zeros((h, w), np.uint8)
        alpha[h // 4 :, w // 4 : 3 * w // 4] = 255
        alpha[h // 4 - 2 : h // 4 + 2] //= 3  # a soft band: the mask and the alpha differ there
        cv2.imwrite(str(root / "image" / f"im{i}.jpg"), rng.integers(0, 256, (h, w, 3), np.uint8))
        cv2.imwrite(str(root / "alpha" / f"im{i}.png"), alpha)
        cv2.imwrite(str(root / "mask" / f"im{i}.png"), np.where(alpha >= 128, 255, 0).astype(np.uint8))
    return root


def check_given_masks_give_what_evaluate_scores(overrides: list[str], root: Path, tmp_path: Path) -> None:
    """predict.py mask=<root>/mask on <root>/image writes the alphas that evaluate.py
    refine_from=gt_mask scores (true alphas in <root>/alpha): the same arrays, per image the same MSE."""
    from cli_common import pipeline_options
    from evaluate import evaluate
    from matting.evaluation.samples import load_folder_arrays
    from matting.evaluation.scoring import score
    from matting.metrics import mse

    out = [f"out_dir={tmp_path}/out", "estimate_foreground=false"]
    cfg = compose_config("predict", overrides + [f"input={root}/image", f"mask={root}/mask", *out])
    samples, _ = load_folder_arrays(root / "image", root / "alpha")
    assert predict(cfg)["written"] == len(samples)
    folder = f"folder={{images: {root}/image, alphas: {root}/alpha}}"
    extra = [
        folder,
        "refine_from=gt_mask",
        f"out_dir={tmp_path}/eval",
        "compare_untrained=false",
        "exports={}",
    ]
    evaluate(compose_config("evaluate", overrides + extra))
    pipeline = MattingPipeline.from_checkpoints(
        cfg.coarse_checkpoint, cfg.fine_checkpoint, **pipeline_options(cfg)
    )
    _, alphas = score(pipeline, samples, refine_from="gt_mask")
    rows = [row.split(",") for row in (tmp_path / "eval" / "per_image.csv").read_text().split()]
    per_image = {row[0]: row for row in rows[1:]}
    for sample, alpha in zip(samples, alphas, strict=True):
        written = read_alpha(tmp_path / "out" / f"{sample['id']}_alpha.png")
        np.testing.assert_array_equal(written, np.rint(alpha * 255).astype(np.uint8))
        scored = float(per_image[sample["id"]][rows[0].index("mse")])
        assert scored == pytest.approx(mse(alpha, sample["alpha"] / 255.0), rel=1e-6)
    # Not the coarse net's alphas: the given masks changed them.
    assert not np.array_equal(alphas[0], pipeline.predict(samples[0]["image"]))


def test_predict_from_given_masks_gives_the_alphas_evaluate_scores_with_gt_mask(trained, tmp_path):
    overrides, _ = trained
    check_given_masks_give_what_evaluate_scores(overrides, write_masked_folder(tmp_path / "data"), tmp_path)


ALPHAMATTING = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting"


@pytest.mark.skipif(not ALPHAMATTING.is_dir(), reason="../shared/data is absent (outside this workplace)")
def test_the_released_model_from_alphamattings_true_masks_gives_what_evaluate_scores(tmp_path):
    """The same on real photos: two alphamatting.com images, their true alpha > 0.5 as the masks."""
    root = tmp_path / "data"
    for sub in ("image", "alpha", "mask"):
        (root / sub).mkdir(parents=True)
    for image in sorted((ALPHAMATTING / "image").iterdir())[:2]:
        alpha = read_alpha(ALPHAMATTING / "alpha" / f"{image.stem}.png")
        cv2.imwrite(str(root / "image" / image.name), cv2.imread(str(image)))
        cv2.imwrite(str(root / "alpha" / f"{image.stem}.png"), alpha)
        cv2.imwrite(str(root / "mask" / f"{image.stem}.png"), np.where(alpha >= 128, 255, 0).astype(np.uint8))
    check_given_masks_give_what_evaluate_scores(["name=pretrained"], root, tmp_path)


def test_given_masks_that_are_missing_mismatched_or_for_an_export(trained, tmp_path):
    overrides, _ = trained
    root = write_masked_folder(tmp_path / "data")
    (root / "mask" / "im1.png").unlink()
    cv2.imwrite(str(root / "mask" / "im0.png"), np.zeros((32, 32), np.uint8))  # square, for a 40x32 image
    cv2.imwrite(str(root / "image" / "im2.png"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(root / "mask" / "im2.png"), np.full((16, 16), 255, np.uint8))  # any size of its aspect
    out = tmp_path / "out"
    result = predict(
        compose_config("predict", overrides + [f"input={root}/image", f"mask={root}/mask", f"out_dir={out}"])
    )
    reasons = {Path(s["path"]).name: s["reason"] for s in result["skipped"]}
    assert result["written"] == 1 and read_alpha(out / "im2_alpha.png").shape == (8, 8)
    assert "im0.png: a 32x32 mask does not fit its 32x40 image (another aspect)" in reasons["im0.jpg"]
    assert "im1.jpg: no mask named im1.*" in reasons["im1.jpg"]
    one = [f"input={root}/image/im2.png", f"mask={root}/mask/im2.png", f"out_dir={tmp_path}/one"]
    assert predict(compose_config("predict", overrides + one))["written"] == 1
    with pytest.raises(DataError, match="is one file for 3 inputs"):
        predict(compose_config("predict", overrides + [f"input={root}/image", f"mask={root}/mask/im2.png"]))
    with pytest.raises(ConfigError, match="mask= refines with the checkpoints"):
        predict(compose_config("predict", overrides + one + ["model_format=onnx", "model_path=x"]))


def test_a_mask_name_that_two_readable_files_share_skips_that_image_only(tmp_path):
    from matting.predict import mask_files

    masks = tmp_path / "masks"
    masks.mkdir()
    for name in ("a.png", "a.jpg", "b.png"):
        cv2.imwrite(str(masks / name), np.zeros((4, 4), np.uint8))
    (masks / "b.svg").write_text("<svg/>")  # not a mask it could read: b.png is b's
    found = mask_files(str(masks), [tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "c.jpg"])
    assert found[tmp_path / "b.jpg"] == masks / "b.png" and tmp_path / "c.jpg" not in found
    assert found[tmp_path / "a.jpg"].startswith(f"{tmp_path / 'a.jpg'}: several masks named a.*")
