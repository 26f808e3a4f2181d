"""Figures on held-out photos only: the selection from a run's splits.json, a wrong source name
refused, benchmarks/peers.py (portraits and people apart, the refinement from the true mask) and
evaluate.py's folder runs restricted alike. Tiny folders and untrained nets: no ../shared needed."""

import contextlib
import io
import json
import runpy
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import compose_config

from evaluate import evaluate_run
from matting.errors import ConfigError, DataError
from matting.evaluation import peers
from matting.evaluation.holdout import SplitRecord, select_photos
from matting.metrics import TRIMAP_UNKNOWN, mse, sad, trimap_from_mask
from matting.models import build_coarse_unet, build_fine_unet

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MEDIAPIPE = Path(__file__).resolve().parents[1] / ".venv-mediapipe" / "bin" / "python"
SIZE = (72, 60)  # height, width: room for a +-10 px band with foreground and background left
STEMS = ("a", "b", "c", "d", "e", "f")  # the portraits; the other folders' names differ, as in ../shared
PEOPLE = tuple(f"ccp{i}" for i in range(6))
MATTES = tuple(f"GT{i}" for i in range(6))


def write_photos(folder: Path, stems=STEMS, soft: bool = False, second: str = "mask") -> Path:
    """``folder/image/<stem>.png`` + ``folder/<second>/<stem>.png``: a person-like box, hard or soft."""
    rng = np.random.default_rng(len(str(folder)))
    (folder / "image").mkdir(parents=True, exist_ok=True)
    (folder / second).mkdir(parents=True, exist_ok=True)
    for i, stem in enumerate(stems):
        alpha = np.zeros(SIZE, np.uint8)
        alpha[16 + i :, 14:46] = 255
        if soft:
            alpha = cv2.GaussianBlur(alpha, (0, 0), 2.0)
        image = rng.integers(0, 256, (*SIZE, 3), np.uint8)
        image[alpha > 127] //= 3
        cv2.imwrite(str(folder / "image" / f"{stem}.png"), image)
        cv2.imwrite(str(folder / second / f"{stem}.png"), alpha)
    return folder


def write_splits(path: Path, source: str, train=(), val=(), test=(), backgrounds=None) -> Path:
    """A splits.json as the dataset builder writes it (foregrounds ``source:stem``, background paths)."""
    listing = {
        split: {
            "foregrounds": sorted(f"{source}:{stem}" for stem in stems),
            "backgrounds": sorted(str(p) for p in (backgrounds or {}).get(split, [])),
        }
        for split, stems in (("train", train), ("val", val), ("test", test))
    }
    path.write_text(json.dumps(listing))
    return path


def write_shared(root: Path) -> Path:
    """A tiny ../shared/data: portraits and people with masks, alphamatting with soft alpha."""
    write_photos(root / "portraits")
    write_photos(root / "people", PEOPLE)
    write_photos(root / "alphamatting", MATTES, soft=True, second="alpha")
    return root


@pytest.fixture()
def shared(tmp_path) -> Path:
    return write_shared(tmp_path / "shared")


# --------------------------------------------------------------------------- the selection


def test_the_selection_keeps_exactly_the_held_out_and_the_unlisted_photos(tmp_path, shared):
    images = shared / "portraits" / "image"
    # f is no foreground, but it was a training background: the run saw it.
    splits = write_splits(
        tmp_path / "splits.json", "portraits", train=["a", "b"], val=["c"], test=["d"],
        backgrounds={"train": [images / "f.png"]},
    )  # fmt: skip
    selection = select_photos(images, "portraits", SplitRecord.read(splits))
    assert selection.stems == ("d", "e")  # d in test, e in no split
    assert (selection.in_held_out, selection.unlisted) == (1, 1)
    assert selection.left_out == {"train": 2, "val": 1, "train (as a background)": 1}
    line = selection.describe()
    assert "2 held-out photos scored" in line and "1 listed in no split" in line and "train 2" in line
    # val counted as held out too, when asked
    both = select_photos(images, "portraits", SplitRecord.read(splits, ["val", "test"]))
    assert both.stems == ("c", "d", "e")
    # a photo the builder skipped (its manifest, beside splits.json) is not scored either
    (tmp_path / "manifest.json").write_text(json.dumps({"skipped": [{"path": str(images / "e.png"),
                                                                     "reason": "empty mask"}]}))  # fmt: skip
    refused = select_photos(images, "portraits", SplitRecord.read(splits))
    assert refused.stems == ("d",) and refused.left_out["skipped by the build"] == 1
    # no splits file: every photo, and the line says loudly that training photos are in
    everything = select_photos(images, "portraits", None)
    assert everything.stems == STEMS and "NOT HELD OUT" in everything.describe()


def test_a_wrong_source_name_is_refused_naming_it(tmp_path, shared):
    splits = write_splits(tmp_path / "splits.json", "portraits", train=["a", "b"], test=["c"])
    record = SplitRecord.read(splits)
    images = shared / "portraits" / "image"
    with pytest.raises(
        ConfigError, match=r"none of the 6 photos .* as source 'portrait' \(--portraits-source\)"
    ):
        select_photos(images, "portrait", record, option="--portraits-source")
    with pytest.raises(ConfigError, match="lists photos of these names as 'portraits'"):
        select_photos(images, "portrait", record)
    # a source the record does not list at all: the message names the ones it does, and the way out
    with pytest.raises(ConfigError, match=r"the sources \['portraits'\]; if the run never trained"):
        select_photos(shared / "people" / "image", "people", record, option="--people-source")
    # "never trained on it" while the record lists them: refused too
    with pytest.raises(ConfigError, match="give --portraits-source that source name"):
        select_photos(images, None, record, option="--portraits-source")
    # a folder the run never trained on: every photo held out, said so
    unseen = select_photos(shared / "people" / "image", None, record)
    assert unseen.stems == PEOPLE and "never trained on" in unseen.describe()


def test_a_folder_trained_on_entirely_or_a_missing_split_is_an_error(tmp_path, shared):
    splits = write_splits(tmp_path / "splits.json", "portraits", train=STEMS)
    with pytest.raises(DataError, match="nothing held out"):
        select_photos(shared / "portraits" / "image", "portraits", SplitRecord.read(splits))
    with pytest.raises(ConfigError, match="held-out splits"):
        SplitRecord.read(splits, ["tset"])
    with pytest.raises(DataError, match="no such splits file"):
        SplitRecord.read(tmp_path / "missing.json")


def test_photos_used_as_they_are_count_as_seen(tmp_path, shared):
    splits = write_splits(tmp_path / "splits.json", "portraits", test=["a"])
    listing = json.loads(splits.read_text())
    listing["train"]["photos"] = ["portraits:b"]  # the builder's photo records, where it lists them
    splits.write_text(json.dumps(listing))
    selection = select_photos(shared / "portraits" / "image", "portraits", SplitRecord.read(splits))
    assert "b" not in selection.stems and selection.left_out == {"train": 1}


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent (outside this workplace)")
def test_the_real_portraits_are_selected_by_their_file_stems(tmp_path):
    stems = sorted(p.stem for p in (SHARED / "portraits" / "image").iterdir())
    splits = write_splits(tmp_path / "splits.json", "portraits", train=stems[2:], test=stems[:1])
    selection = select_photos(SHARED / "portraits" / "image", "portraits", SplitRecord.read(splits))
    assert selection.stems == tuple(stems[:2]) and selection.unlisted == 1


# --------------------------------------------------------------------------- benchmarks/peers.py


def peers_main(argv: list[str]) -> dict:
    """``python benchmarks/peers.py ...``, in this process: the script's ``main``."""
    return runpy.run_path(str(Path(__file__).resolve().parents[1] / "benchmarks" / "peers.py"))["main"](argv)


def peers_args(shared: Path, out: Path, *extra) -> list[str]:
    return [
        "--shared", str(shared), "--out", str(out), "--untrained-filters", "4", "8",
        "--coarse-size", "32", "32", "--fine-size", "64", "64", "--no-speed", "--worst", "2",
        "--mediapipe-python", str(out / "no-mediapipe"), *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def peers_run(tmp_path_factory):
    """peers.py on the tiny folders, run once: portraits a, b in train, c in val, d in test (e, f in
    no split); people trained on but for the last; alphamatting with source none (never trained on)."""
    tmp_path = tmp_path_factory.mktemp("peers")
    shared = write_shared(tmp_path / "shared")
    portraits = write_splits(tmp_path / "p.json", "portraits", train=["a", "b"], val=["c"], test=["d"])
    listing = json.loads(portraits.read_text())
    listing["train"]["foregrounds"] += [f"people:{s}" for s in PEOPLE[:5]]
    portraits.write_text(json.dumps(listing))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = peers_main(
            peers_args(shared, tmp_path / "out", "--splits", str(portraits), "--alphamatting-source", "none")
        )
    return result, printed.getvalue()


def test_peers_scores_only_held_out_photos_portraits_and_people_apart(peers_run):
    result, out = peers_run
    ids = {s.name: [r["id"] for r in s.rows[peers.OURS]] for s in result["sets"]}
    assert ids == {"portraits": ["d", "e", "f"], "people": ["ccp5"]}  # a photo in train is never scored
    assert [r["id"] for r in result["alpha"][peers.TRUE_MASK]] == list(MATTES)  # never trained on
    assert "MediaPipe skipped" in out and "NOT HELD OUT" not in out
    # the table prints: one row per method and set, the count of held-out photos in it
    assert "| coarse stage (ours) | portraits | 3 held out |" in out
    assert "| coarse stage (ours) | people | 1 held out |" in out
    # and the whole pipeline's alpha against the same masks, on the same photos
    for scored in result["sets"]:
        assert [r["id"] for r in scored.rows[peers.OURS_ALPHA]] == ids[scored.name]
    assert "| whole pipeline (ours): its alpha | portraits | 3 held out |" in out
    assert "2 listed in no split" in out  # e and f of the portraits
    for name in ("md", "json", "png", "worst"):
        assert result["files"][name].is_file()
    assert result["files"]["md"].read_text().strip() == result["text"].strip()
    saved = json.loads(result["files"]["json"].read_text())
    assert saved["held_out"] and saved["photos"]["portraits"]["left_out"] == {"train": 2, "val": 1}


def test_peers_refinement_from_the_true_mask_has_the_input_mask_row_and_the_band(peers_run):
    result, out = peers_run
    alpha = result["alpha"]
    assert list(alpha) == list(peers.ALPHA_ROWS)
    for rows in alpha.values():
        assert all({"mse", "sad", "mse_band", "sad_band", "s"} <= set(r) for r in rows)
    # The input mask row is the true alpha > 0.5 scored as the alpha, the band +-10 px around it.
    truth = (
        cv2.imread(str(Path(result["selections"]["alphamatting"].folder).parent / "alpha" / "GT0.png"), 0)
        / 255
    )
    mask = (truth >= 128 / 255).astype(np.float64)
    band = trimap_from_mask(mask) == TRIMAP_UNKNOWN
    first = alpha[peers.TRUE_MASK][0]
    assert first["mse"] == pytest.approx(mse(mask, truth)) and first["sad"] == pytest.approx(sad(mask, truth))
    assert first["mse_band"] == pytest.approx(mse(mask, truth, band))
    assert first["mse_band"] > first["mse"]  # the error is at the edge
    assert np.isnan(first["s"])  # nothing was run
    assert "| true mask (alpha > 0.5) itself, as the alpha | 6 held out |" in out
    assert "MSE (band) | SAD (band)" in out and peers.COARSE_CF in out  # the coarse-mask rows are kept


def test_peers_worst_cases_grid_has_the_worst_of_each_set(peers_run):
    result, _ = peers_run
    grid = cv2.imread(str(result["files"]["worst"]))
    assert grid.shape[0] == 3 * 192 + 2 * 4  # 2 portraits + the 1 held-out people photo, 4 px gaps
    lowest = min(r["iou"] for r in result["sets"][0].rows[peers.OURS])
    assert f"ours IoU {lowest:.2f}" in result["text"]


def test_peers_without_splits_says_the_figures_include_training_photos(tmp_path, shared, capsys):
    result = peers_main(peers_args(shared, tmp_path / "out", "--max-images", "1"))
    out = capsys.readouterr().out
    assert out.count("NOT HELD OUT") >= 3 and result["text"].rstrip().endswith(peers.NOT_HELD_OUT)
    assert "| coarse stage (ours) | portraits | 1 ALL, training photos included |" in out


def test_peers_refuses_a_wrong_source_name_before_any_net_runs(tmp_path, shared):
    splits = write_splits(tmp_path / "splits.json", "portraits", train=["a"], test=["b"])
    with pytest.raises(ConfigError, match="as source 'people' \\(--people-source\\)"):
        peers_main(peers_args(shared, tmp_path / "out", "--splits", str(splits)))
    assert not (tmp_path / "out").exists()


def test_the_coarse_stage_alone_is_the_pipelines_coarse_mask():
    from matting.inference.pipeline import MattingPipeline

    pipeline = MattingPipeline.from_models(
        build_coarse_unet(filters=[4, 8]),
        build_fine_unet(filters=[4, 8]),
        coarse_size=(32, 32),
        fine_size=(64, 64),
    )
    image = np.random.default_rng(0).integers(0, 256, (50, 37, 3), np.uint8)
    expected = pipeline.predict_stages(image)["coarse"]
    np.testing.assert_allclose(pipeline.coarse_mask(image), expected, atol=1e-6)


@pytest.mark.skipif(not MEDIAPIPE.is_file(), reason=".venv-mediapipe is absent (make mediapipe-venv)")
def test_mediapipe_masks_come_back_for_the_same_photos(shared):
    from matting.evaluation.samples import load_folder_arrays

    samples, _ = load_folder_arrays(shared / "people" / "image", shared / "people" / "mask", max_images=2)
    masks, ms = peers.mediapipe_masks({s["id"]: s["image"] for s in samples}, MEDIAPIPE)
    assert [m.shape for m in masks.values()] == [SIZE, SIZE] and list(ms) == [s["id"] for s in samples]
    assert all(0.0 <= m.min() and m.max() <= 1.0 for m in masks.values())


# --------------------------------------------------------------------------- evaluate.py


@pytest.fixture()
def checkpoints(tmp_path) -> list[str]:
    """Untrained tiny checkpoints, and the overrides that score them."""
    coarse, fine = tmp_path / "coarse.keras", tmp_path / "fine.keras"
    build_coarse_unet(filters=[4, 8]).save(coarse)
    build_fine_unet(filters=[4, 8]).save(fine)
    return [
        f"coarse_checkpoint={coarse}", f"fine_checkpoint={fine}", "model.coarse_size=[32,32]",
        "model.fine_size=[64,64]", "compare_untrained=false", "exports={}",
    ]  # fmt: skip


def shared_eval(shared: Path, tmp_path: Path, *extra) -> list[str]:
    return ["experiment=shared_eval", f"paths.shared_dir={shared}", f"out_dir={tmp_path / 'eval'}", *extra]


def test_evaluate_folder_runs_score_only_held_out_photos(tmp_path, shared, checkpoints, capsys):
    splits = write_splits(tmp_path / "splits.json", "portraits", train=["a", "b"], test=["c"])
    listing = json.loads(splits.read_text())
    listing["train"]["foregrounds"] += ["alphamatting:GT0", "alphamatting:GT1", "alphamatting:GT2"]
    listing["test"]["foregrounds"] += ["alphamatting:GT3"]
    splits.write_text(json.dumps(listing))
    overrides = shared_eval(
        shared, tmp_path, f"holdout.splits_file={splits}", "coarse_folders.people.source=null"
    )
    result = evaluate_run(compose_config("evaluate", checkpoints + overrides))
    out = capsys.readouterr().out
    summaries = result["summaries"]
    assert summaries["trained"]["count"] == 3  # d held out, e and f in no split
    assert (
        summaries["coarse stage, portraits"]["count"] == 4 and summaries["coarse stage, people"]["count"] == 6
    )
    assert "3 held-out photos scored, source 'alphamatting'" in out and "never trained on" in out
    saved = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert [p["scored"] for p in saved["photos"]] == [3, 4, 6]
    assert saved["photos"][1]["left_out"] == {"train": 2}
    rows = (tmp_path / "eval" / "per_image.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["GT3", "GT4", "GT5"]  # no photo of train scored

    oracle = evaluate_run(compose_config("evaluate", checkpoints + overrides + ["refine_from=gt_mask"]))
    assert oracle["summaries"]["trained"]["count"] == 3
    assert oracle["summaries"]["trained"]["mse"] != summaries["trained"]["mse"]


def test_evaluate_refuses_a_wrong_or_missing_source(tmp_path, shared, checkpoints):
    splits = write_splits(tmp_path / "splits.json", "portraits", train=["a"], test=["b"])
    overrides = shared_eval(shared, tmp_path, f"holdout.splits_file={splits}", "folder.source=null")
    with pytest.raises(ConfigError, match=r"as source 'people' \(coarse_folders.people.source\)"):
        evaluate_run(compose_config("evaluate", checkpoints + overrides))
    folder = f"folder={{images: {shared}/alphamatting/image, alphas: {shared}/alphamatting/alpha}}"
    plain_run = [folder, f"holdout.splits_file={splits}", f"out_dir={tmp_path / 'eval'}"]
    with pytest.raises(ConfigError, match="folder.source is not set"):
        evaluate_run(compose_config("evaluate", checkpoints + plain_run))


def test_evaluate_without_a_splits_file_says_training_photos_are_included(
    tmp_path, shared, checkpoints, capsys
):
    overrides = shared_eval(shared, tmp_path, "holdout.splits_file=null", "max_images=2")
    evaluate_run(compose_config("evaluate", checkpoints + overrides))
    assert capsys.readouterr().out.count("NOT HELD OUT") == 3
    assert "NOT HELD OUT" in (tmp_path / "eval" / "summary.md").read_text()


def test_the_pipeline_row_scores_the_pipelines_alpha(tmp_path, shared):
    from matting.inference.pipeline import MattingPipeline

    pipeline = MattingPipeline.from_models(
        build_coarse_unet(filters=[4, 8]),
        build_fine_unet(filters=[4, 8]),
        coarse_size=(32, 32),
        fine_size=(64, 64),
    )
    selection = select_photos(shared / "portraits" / "image", "portraits", None, option="--portraits-source")
    scored = peers.score_mask_set("portraits", shared / "portraits", selection, pipeline, None, 2)
    for i, sample in enumerate(scored.samples):
        truth = sample["alpha"] / 255.0
        alpha = pipeline.predict(sample["image"])
        assert scored.rows[peers.OURS_ALPHA][i]["mse"] == pytest.approx(mse(alpha, truth))
        coarse = pipeline.coarse_mask(sample["image"])
        assert scored.rows[peers.OURS][i]["mse"] == pytest.approx(mse(coarse, truth))
