"""The awkward-file corpus (``tests/awkward.py``) through every entry point that reads folders of
images: the readers, ``predict.py``, ``evaluate.py folder=...`` and the dataset builder's sources.
Each file gives an output of its displayed size or a skip naming it and the reason; no run dies."""

import csv
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from awkward import Case, write_alphas, write_corpus
from conftest import compose_config
from PIL import Image, ImageOps

from matting.data.build import build_dataset
from matting.errors import DataError
from matting.evaluation.samples import load_folder_arrays
from matting.io.images import SKIPPED_FILE, read_alpha, read_image


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[Case]]:
    folder = tmp_path_factory.mktemp("awkward") / "images"
    return folder, write_corpus(folder)


def decodable(cases: list[Case]) -> list[Case]:
    return [c for c in cases if c.size]


def skip_reasons(skipped: list[dict]) -> dict[str, str]:
    return {Path(s["path"]).name: s["reason"] for s in skipped}


def test_the_corpus_has_every_class_of_awkward_file(corpus):
    _, cases = corpus
    names = {c.name for c in cases}
    assert {f"exif_{o}.jpg" for o in range(1, 9)} <= names
    assert {
        "size_1x1.png",
        "size_2x2.png",
        "size_1x23.png",
        "size_23x1.png",
        "palette.png",
        "cmyk.jpg",
    } <= names
    assert {"gray_alpha.png", "deep_16bit.png", "photo.webp", "jpeg_named.png", "bomb.png"} <= names
    assert {"truncated.png", "zero_bytes.jpg", "text_named.jpg"} <= names
    assert {"animated.gif", "pillow_only.tga", "drawing.svg", "phone.heic", "folder.jpg"} <= names


def test_readers_give_the_displayed_size_or_a_clear_error(corpus):
    folder, cases = corpus
    for case in cases:
        if case.size is None:
            with pytest.raises(DataError, match=case.problem):
                read_image(folder / case.name)
            continue
        image = read_image(folder / case.name)
        assert image.dtype == np.uint8 and image.shape == (case.size[1], case.size[0], 3), case.name
        if case.name.startswith("exif_"):  # the same pixels PIL shows upright
            with Image.open(folder / case.name) as shown:
                upright = np.asarray(ImageOps.exif_transpose(shown).convert("RGB"), np.int16)
            assert np.abs(upright - image).mean() < 2, case.name
        if case.name in ("animated.gif", "pillow_only.tga"):  # an animation: its first frame
            with Image.open(folder / case.name) as shown:
                np.testing.assert_array_equal(np.asarray(shown.convert("RGB")), image)


def test_a_bombs_message_gives_the_size_its_header_claims(corpus):
    folder, _ = corpus
    for read in (read_image, read_alpha):
        with pytest.raises(DataError, match=r"bomb\.png: 60000x60000 is 3600 MP, over the limit of 100 MP"):
            read(folder / "bomb.png")
    with pytest.raises(DataError, match=r"bomb\.png: 60000x60000 is 3600 MP, over the limit of 50 MP"):
        read_image(folder / "bomb.png", max_pixels=50_000_000)
    with pytest.raises(DataError, match=r"bomb\.png: not decodable"):  # no guard: OpenCV's own limit
        read_image(folder / "bomb.png", max_pixels=None)


def test_predict_writes_every_decodable_file_at_its_size_and_skips_the_rest(trained, corpus, tmp_path):
    from predict import predict

    overrides, _ = trained
    folder, cases = corpus
    out = tmp_path / "out"
    result = predict(
        compose_config("predict", overrides + [f"input={folder}", f"out_dir={out}", "background=[0,0,255]"])
    )

    skips = skip_reasons(result["skipped"])
    expected_skips = {c.name for c in cases if c.size is None}  # every size down to 1x1 is matted
    assert set(skips) == expected_skips
    for case in cases:
        if case.size is None:
            assert str(folder / case.name) in skips[case.name] and re.search(case.problem, skips[case.name])
        else:
            width, height = case.size
            assert read_alpha(out / f"{case.stem}_alpha.png").shape == (height, width), case.name
            assert read_image(out / f"{case.stem}_rgba.png").shape == (height, width, 3), case.name
            assert read_image(out / f"{case.stem}_on_bg.png").shape == (height, width, 3), case.name
    assert result["written"] == len(cases) - len(expected_skips)
    with open(out / SKIPPED_FILE) as f:
        assert {Path(row["path"]).name for row in csv.DictReader(f)} == expected_skips
    assert (
        result["summary"]
        == f"{result['written']} written, {len(expected_skips)} skipped (see {out / SKIPPED_FILE})"
    )

    # Without foreground estimation the single pixel is matted too; a clean run leaves no skipped.csv.
    again = predict(
        compose_config(
            "predict",
            overrides + [f"input={folder / 'size_1x1.png'}", f"out_dir={out}", "estimate_foreground=false"],
        )
    )
    assert again["written"] == 1 and not again["skipped"] and again["summary"] == "1 written, 0 skipped"
    assert read_alpha(out / "size_1x1_alpha.png").shape == (1, 1)
    assert not (out / SKIPPED_FILE).exists()


def test_evaluate_folder_scores_every_decodable_file_and_skips_the_rest(trained, corpus, tmp_path):
    from evaluate import evaluate_run

    overrides, _ = trained
    folder, cases = corpus
    alphas = tmp_path / "alpha"
    write_alphas(alphas, cases)
    write_alphas(alphas, [Case("exif_6.jpg", (24, 16))])  # the stored size, not the displayed 16x24

    samples, skipped = load_folder_arrays(folder, alphas)
    kept = [c for c in decodable(cases) if c.name != "exif_6.jpg"]
    assert {s["id"]: s["image"].shape[1::-1] for s in samples} == {c.stem: c.size for c in kept}
    skips = skip_reasons(skipped)
    assert set(skips) == {c.name for c in cases if c.size is None} | {"exif_6.jpg"}
    assert (
        f"{alphas / 'exif_6.png'}: alpha is 24x16 but {folder / 'exif_6.jpg'} is 16x24" in skips["exif_6.jpg"]
    )

    out = tmp_path / "eval"
    extra = [f"folder={{images: {folder}, alphas: {alphas}}}", "compare_untrained=false", f"out_dir={out}"]
    result = evaluate_run(compose_config("evaluate", overrides + extra))
    assert result["summaries"]["trained"]["count"] == len(kept)
    with open(out / "per_image.csv") as f:
        assert sorted(row["id"] for row in csv.DictReader(f)) == sorted(c.stem for c in kept)
    assert skip_reasons(json.loads((out / "summary.json").read_text())["skipped"]) == skips
    assert result["summary"] == f"{len(kept)} scored, {len(skips)} skipped (see {out / SKIPPED_FILE})"


def test_builder_sources_skip_bad_and_tiny_files_and_use_the_rest(corpus, tmp_path):
    folder, cases = corpus
    root = folder.parent
    write_alphas(root / "builder_alpha", cases)
    layout = {"root": str(root), "name": "mattes", "fg_dir": "images", "alpha_dir": "builder_alpha"}
    manifest = build_dataset(
        sources=[
            {"type": "matte_folder", **layout, "estimate_foreground": True},
            {"type": "mask_folder", "root": str(root), "name": "masks", "image_dir": "images",
             "mask_dir": "builder_alpha"},
        ],
        backgrounds=[str(folder)], out_dir=str(tmp_path / "out"), size=(16, 16),
        counts={"train": 4, "val": 0, "test": 0}, holdout={"val": 0.0, "test": 0.0},
    )  # fmt: skip
    tiny = {c.name for c in decodable(cases) if min(c.size) < 8}
    assert tiny == {
        "size_1x1.png",
        "size_2x2.png",
        "size_1x23.png",
        "size_23x1.png",
        "size_300x3.png",
        "size_3x300.png",
    }
    bad = {c.name for c in cases if c.size is None}
    reasons = {}
    for skip in manifest["skipped"]:
        reasons.setdefault(Path(skip["path"]).name, []).append(skip["reason"])
    assert set(reasons) == bad | tiny
    for case in cases:
        if case.name in bad:  # once per source and once as a background
            assert len(reasons[case.name]) == 3 and all(
                re.search(case.problem, r) for r in reasons[case.name]
            )
        elif case.name in tiny:  # skipped as foregrounds, used as backgrounds
            width, height = case.size
            why = (
                f"{folder / case.name}: {width}x{height} is too small for a foreground (at least 8 px a side)"
            )
            assert reasons[case.name] == [why, why]
    listing = json.loads((tmp_path / "out" / "splits.json").read_text())["train"]
    usable = {c.stem for c in decodable(cases)} - {Path(n).stem for n in tiny}
    assert set(listing["foregrounds"]) == {
        f"{source}:{stem}" for source in ("mattes", "masks") for stem in usable
    }
    assert {Path(p).name for p in listing["backgrounds"]} == {c.name for c in decodable(cases)}
    assert manifest["splits"]["train"]["count"] == 4


# Runs each script as ``python <script> ...`` would (Hydra finds its configs beside the file), both in one
# interpreter to pay for importing TensorFlow once; prints each exit status.
_RUN_SCRIPTS = """
import json, runpy, sys
for args in map(json.loads, sys.argv[1:]):
    sys.argv = args
    try:
        runpy.run_path(args[0], run_name="__main__")
    except SystemExit as exit_:
        print(f"exit status: {exit_.code}", flush=True)
"""


def test_folder_runs_exit_1_with_the_count_on_the_last_line(trained, corpus, tmp_path):
    import subprocess

    overrides, _ = trained
    folder, cases = corpus
    alphas = tmp_path / "alpha"
    write_alphas(alphas, cases)
    out = tmp_path / "predict"
    common = [*overrides, f"hydra.run.dir={tmp_path / 'hydra'}"]
    runs = [
        ["predict.py", *common, f"input={folder / 'zero_bytes.jpg'}", f"out_dir={out}"],
        ["evaluate.py", *common, f"folder={{images: {folder}, alphas: {alphas}}}", "compare_untrained=false",
         f"out_dir={tmp_path / 'eval'}"],
        ["predict.py", *common, f"input={tmp_path / 'nothing'}"],
    ]  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _RUN_SCRIPTS, *map(json.dumps, runs)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stdout.splitlines()
    ends = [i for i, line in enumerate(lines) if line.startswith("exit status: ")]
    assert [lines[i] for i in ends] == ["exit status: 1", "exit status: 1", "exit status: 2"], done.stderr[
        -2000:
    ]
    assert lines[ends[0] - 1] == f"0 written, 1 skipped (see {out / SKIPPED_FILE})"
    bad = len([c for c in cases if c.size is None])
    assert (
        lines[ends[1] - 1]
        == f"{len(cases) - bad} scored, {bad} skipped (see {tmp_path / 'eval' / SKIPPED_FILE})"
    )
    assert f"error: predict: {tmp_path / 'nothing'}: no such file or folder" in done.stderr


# ---------------------------------------------------------------------------------------------------
# Untrusted checkpoints
# ---------------------------------------------------------------------------------------------------


def test_a_checkpoint_holding_a_lambda_is_refused_without_running_it(tmp_path, trained):
    import keras
    from keras.src.backend.common import global_state

    from matting.errors import CheckpointError
    from matting.export import load_pipeline
    from matting.models.loading import load_checkpoint

    ran = tmp_path / "ran"  # the function leaves this file behind when it runs
    touch = eval(f"lambda x: (__import__('pathlib').Path({str(ran)!r}).touch(), x)[1]")
    inputs = keras.Input((8, 8, 3))
    keras.Model(inputs, keras.layers.Lambda(touch)(inputs)).save(tmp_path / "lambda.keras")
    ran.unlink()  # building the model called it once
    before = global_state.get_global_attribute("safe_mode_saving")
    keras.config.enable_unsafe_deserialization()  # even a process that turned safe mode off is safe
    try:
        with pytest.raises(CheckpointError, match=r"lambda\.keras: refused: it holds Python code \(a Lambda"):
            load_checkpoint(tmp_path / "lambda.keras")
    finally:
        global_state.set_global_attribute("safe_mode_saving", before)
    assert not ran.exists()

    _, results = trained  # the pipeline's loader goes through it too, and names the file
    coarse = results["coarse"]["checkpoint"]
    with pytest.raises(CheckpointError, match=r"lambda\.keras: refused"):
        load_pipeline("keras", coarse=coarse, fine=str(tmp_path / "lambda.keras"))
    (tmp_path / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    (tmp_path / "junk.keras").write_bytes(b"PK\x03\x04 not a zip")
    for name in ("model.h5", "junk.keras"):
        with pytest.raises(CheckpointError, match=rf"{name}: not a \.keras checkpoint"):
            load_checkpoint(tmp_path / name)
    assert load_checkpoint(coarse).count_params() > 0


def test_the_library_loads_keras_models_in_one_place():
    """Every model load goes through ``load_checkpoint`` (safe mode forced); nothing unpickles."""
    root = Path(__file__).resolve().parents[1] / "matting"
    calls = ("load_model(", "import pickle", "allow_pickle")
    found = {
        f"{path.relative_to(root)}: {call}"
        for path in root.rglob("*.py")
        for call in calls
        if call in path.read_text() and path.name != "loading.py"
    }
    assert not found
