"""The dataset builder and the TFRecord layout, on the tiny synthetic dataset."""

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import compose_config, tiny_overrides

from build_dataset import build
from matting.data.build import build_dataset
from matting.data.features import ALPHA, COARSE, IMAGE, SAMPLE_ID, SOURCE, encode_example
from matting.data.pipeline import read_records, split_files
from matting.errors import ConfigError, DataError


def _shards(root):
    return root / "data" / "shards" / "tiny"


def test_records_round_trip_across_several_shards(tiny_root):
    files = split_files(_shards(tiny_root), "train")
    assert [f.rsplit("/", 1)[1] for f in files] == [f"train-0000{i}-of-00003.tfrecord" for i in range(3)]
    records = list(read_records(files).as_numpy_iterator())
    assert len(records) == 24
    ids = [r[SAMPLE_ID].decode() for r in records]
    # "train/{index}:synthetic:{foreground}+{background}", in index order across the shards.
    assert [i.split(":")[0] for i in ids] == [f"train/{n}" for n in range(24)]
    assert all(i.split(":", 1)[1].startswith("synthetic:") and "+" in i for i in ids)
    for r in records:
        assert r[IMAGE].shape == (96, 80, 3) and r[ALPHA].shape == (96, 80, 1)
        # The coarse mask is the alpha thresholded at 0.5.
        np.testing.assert_array_equal(r[COARSE][..., 0] > 0.5, r[ALPHA][..., 0] > 0.5)
        assert r[SOURCE] == b"synthetic"


def test_encode_example_round_trip_is_lossless_for_alpha_and_mask():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (12, 10, 3), np.uint8)
    alpha = rng.integers(0, 256, (12, 10), np.uint8)
    coarse = np.where(alpha > 127, 255, 0).astype(np.uint8)
    record = encode_example(image, alpha, coarse, source="s", sample_id="x")
    from matting.data.features import parse_example

    parsed = parse_example(record)
    # Colour order survives the JPEG round trip (a red image stays red, not blue).
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 250
    blank = np.zeros((16, 16), np.uint8)
    red_back = parse_example(encode_example(red, blank, blank, source="s", sample_id="red"))[IMAGE]
    assert red_back.numpy()[..., 0].mean() > 0.9 and red_back.numpy()[..., 2].mean() < 0.1
    np.testing.assert_array_equal(np.rint(parsed[ALPHA].numpy()[..., 0] * 255), alpha)
    np.testing.assert_array_equal(np.rint(parsed[COARSE].numpy()[..., 0] * 255), coarse)
    with pytest.raises(ValueError, match="one height and width"):
        encode_example(image, alpha[:, :5], coarse, source="s", sample_id="bad")
    from matting.io.codecs import encode_png

    with pytest.raises(ValueError, match="1-bit PNG holds a single-channel mask"):
        encode_png(image, bilevel=True)


def test_manifest_counts_and_splits_disjoint_by_foreground_and_background(tiny_root):
    manifest = json.loads((_shards(tiny_root) / "manifest.json").read_text())
    assert {s: manifest["splits"][s]["count"] for s in ("train", "val", "test")} == {
        "train": 24, "val": 4, "test": 6,
    }  # fmt: skip
    foregrounds, backgrounds = {}, {}
    for split in ("train", "val", "test"):
        records = list(read_records(split_files(_shards(tiny_root), split)).as_numpy_iterator())
        foregrounds[split] = {r[SAMPLE_ID].decode().split(":", 1)[1].split("+")[0] for r in records}
        backgrounds[split] = {r[SAMPLE_ID].decode().rsplit("+", 1)[1] for r in records}
    for used in (foregrounds, backgrounds):
        assert not used["train"] & used["test"]
        assert not used["train"] & used["val"]
        assert not used["val"] & used["test"]


def _digests(manifest):
    return {s: [x["sha256"] for x in manifest["splits"][s]["shards"]] for s in manifest["splits"]}


def test_same_seed_gives_identical_shards(tiny_root, tmp_path):
    cfg = compose_config("build_dataset", tiny_overrides(tiny_root) + [f"data.shards_dir={tmp_path}/again"])
    original = json.loads((_shards(tiny_root) / "manifest.json").read_text())
    assert _digests(build(cfg)) == _digests(original)


# A build killed with SIGKILL while it writes its 11th record: inside the second train shard (8 a shard).
KILLED_BUILD = """
import os, signal, sys
import tensorflow as tf
sys.path.insert(0, "tests")
from conftest import compose_config, tiny_overrides
from build_dataset import build

writes, write = 0, tf.io.TFRecordWriter.write
def killing_write(self, record):
    global writes
    writes += 1
    if writes == 11:
        os.kill(os.getpid(), signal.SIGKILL)
    write(self, record)
tf.io.TFRecordWriter.write = killing_write
build(compose_config("build_dataset", tiny_overrides(sys.argv[1]) + sys.argv[2:]))
"""


def test_a_killed_build_resumes_to_the_same_bytes_writing_only_the_missing_shards(tiny_root, tmp_path):
    import signal
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    overrides = [f"data.shards_dir={tmp_path}/killed", "data.build.workers=1"]
    env = {**os.environ, "PYTHONPATH": str(repo), "TF_CPP_MIN_LOG_LEVEL": "3"}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BUILD, str(tiny_root), *overrides], env=env, cwd=repo, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    out = tmp_path / "killed"
    # The complete first shard under its final name; the second only under a temporary one.
    assert sorted(p.name for p in out.glob("*.tfrecord")) == ["train-00000-of-00003.tfrecord"]
    assert [p.name.split(".")[1] for p in out.glob(".*.tmp")] == ["train-00001-of-00003"]
    assert not (out / "manifest.json").exists()
    kept = (out / "train-00000-of-00003.tfrecord").stat().st_mtime_ns

    resumed = build(compose_config("build_dataset", tiny_overrides(tiny_root) + overrides))
    original = json.loads((_shards(tiny_root) / "manifest.json").read_text())
    assert _digests(resumed) == _digests(original)
    assert (out / "train-00000-of-00003.tfrecord").stat().st_mtime_ns == kept  # not rewritten
    assert not list(out.glob(".*.tmp"))  # the killed build's temporary file is gone


def test_folder_with_another_build_is_refused(tiny_root):
    cfg = compose_config("build_dataset", tiny_overrides(tiny_root) + ["data.build.seed=7"])
    with pytest.raises(DataError, match="other settings"):
        build(cfg)


def _small_build(tmp_path) -> dict:
    """``build_dataset`` arguments for 8 composites of 32x32 from 6 synthetic foregrounds."""
    from matting.data.synthetic import write_synthetic_dataset

    raw = tmp_path / "raw"
    write_synthetic_dataset(raw, num_foregrounds=6, num_backgrounds=6, fg_size=(48, 40), bg_size=(48, 40))
    return dict(
        sources=[{"type": "matte_folder", "name": "s", "root": str(raw)}], backgrounds=[str(raw / "bg")],
        out_dir=str(tmp_path / "out"), size=(32, 32), counts={"train": 4, "val": 2, "test": 2},
        holdout={"val": 0.2, "test": 0.2},
    )  # fmt: skip


def test_a_build_folder_is_not_reused_after_its_input_files_change(tmp_path):
    kwargs = _small_build(tmp_path)
    raw = tmp_path / "raw"
    first = build_dataset(**kwargs)
    assert build_dataset(**kwargs) == first  # same inputs: the finished build is returned
    background = sorted((raw / "bg").iterdir())[0]
    cv2.imwrite(str(raw / "bg" / "extra.png"), cv2.imread(str(background)))
    with pytest.raises(DataError, match="built from other input files"):
        build_dataset(**kwargs)


def test_layers_are_the_foreground_and_background_of_each_composite(tiny_root):
    from matting.data.features import BACKGROUND, FOREGROUND, has_layers

    files = split_files(_shards(tiny_root), "val")
    assert has_layers(files[0])  # the default data config stores them
    for record in read_records(files, with_layers=True).take(8):
        a, image = record[ALPHA].numpy(), record[IMAGE].numpy()
        recomposed = a * record[FOREGROUND].numpy() + (1.0 - a) * record[BACKGROUND].numpy()
        assert np.abs(recomposed - image).mean() < 0.02  # equal but for the JPEG rounding of each
        # Outside the person's box the foreground layer is the background.
        rows, cols = np.nonzero(a[..., 0].any(axis=1))[0], np.nonzero(a[..., 0].any(axis=0))[0]
        outside = np.ones(a.shape[:2], bool)
        outside[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = False
        difference = np.abs(record[FOREGROUND].numpy() - record[BACKGROUND].numpy())
        assert outside.any() and difference[outside].mean() < 0.02 and difference[~outside].mean() > 0.05


def test_foreground_without_alpha_and_unreadable_background_are_skipped_and_listed(tmp_path):
    from matting.data.synthetic import write_synthetic_dataset

    raw = tmp_path / "raw"
    write_synthetic_dataset(raw, num_foregrounds=8, num_backgrounds=4, fg_size=(64, 48), bg_size=(64, 48))
    (raw / "alpha" / "00003.png").unlink()
    (raw / "bg" / "00001.jpg").write_bytes(b"\xff\xd8 truncated")
    manifest = build_dataset(
        sources=[{"type": "matte_folder", "root": str(raw)}], backgrounds=[str(raw / "bg")],
        out_dir=str(tmp_path / "shards"), size=(64, 48), counts={"train": 4, "val": 2, "test": 2},
        holdout={"val": 0.2, "test": 0.2},
    )  # fmt: skip
    reasons = {s["path"].rsplit("/", 1)[1]: s["reason"] for s in manifest["skipped"]}
    assert "no alpha/00003.* beside it" in reasons["00003.png"]
    assert "not a readable image" in reasons["00001.jpg"]
    assert manifest["splits"]["train"]["count"] == 4


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"size": (0, 64)}, ConfigError, "size"),
        ({"counts": {"train": -1}}, ConfigError, "counts.train"),
        ({"scale_range": (0.9, 0.5)}, ConfigError, r"scale_range must be \[low, high\]"),
        ({"max_drop": 1.5}, ConfigError, "max_drop in"),
        ({"max_offset": 2.0}, ConfigError, r"max_offset must be in \[0, 1\]"),
        ({"counts": {"val": 5}}, ConfigError, "counts.train must be positive, got 0"),  # left out: none
        ({"counts": {"train": 5, "test": -1}}, ConfigError, "counts.test must be >= 0"),
        ({"samples_per_shard": 2.5}, ConfigError, "samples_per_shard must be a positive"),
        ({"jpeg_quality": 0}, ConfigError, "jpeg_quality must be in"),
        ({"backgrounds": []}, ConfigError, "backgrounds"),
        ({"sources": [{"type": "matte_folder", "root": "/no/such/place"}]}, DataError, "/no/such/place"),
    ],
)
def test_bad_build_settings_fail_with_a_clear_message(tmp_path, kwargs, error, match):
    (tmp_path / "bg").mkdir()
    cv2.imwrite(str(tmp_path / "bg" / "one.png"), np.zeros((8, 8, 3), np.uint8))
    settings = {
        "sources": [{"type": "matte_folder", "root": str(tmp_path)}],
        "backgrounds": [str(tmp_path / "bg")],
        "out_dir": str(tmp_path / "out"),
        **kwargs,
    }
    with pytest.raises(error, match=match):
        build_dataset(**settings)
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_one_process_writes_the_same_bytes_as_two(tiny_root, tmp_path):
    cfg = compose_config(
        "build_dataset",
        tiny_overrides(tiny_root) + [f"data.shards_dir={tmp_path}/serial", "data.build.workers=1"],
    )
    serial = build(cfg)  # the tiny dataset itself is built by 2 worker processes
    original = json.loads((_shards(tiny_root) / "manifest.json").read_text())
    for split in ("train", "val", "test"):
        assert serial["splits"][split]["shards"] == original["splits"][split]["shards"]


def test_odd_foreground_files_are_used_and_broken_ones_skipped_in_a_build(tmp_path):
    """Grayscale, 16-bit, RGBA and CMYK photos are converted and used; a zero-byte photo and a
    photo whose alpha has another size are counted skips, listed with their reason."""
    from PIL import Image

    for sub in ("fg", "alpha", "bg"):
        (tmp_path / sub).mkdir()
    alpha = np.zeros((40, 30), np.uint8)
    alpha[5:35, 8:22] = 255
    photos = {
        "gray.png": np.full((40, 30), 90, np.uint8),
        "deep.png": np.full((40, 30, 3), 40000, np.uint16),
        "rgba.png": np.full((40, 30, 4), 200, np.uint8),
    }
    for name, photo in photos.items():
        cv2.imwrite(str(tmp_path / "fg" / name), photo)
    Image.new("CMYK", (30, 40), (0, 255, 255, 0)).save(tmp_path / "fg" / "cmyk.jpg")
    (tmp_path / "fg" / "empty.jpg").write_bytes(b"")
    cv2.imwrite(str(tmp_path / "fg" / "small.png"), np.zeros((20, 30, 3), np.uint8))
    for name in ("gray", "deep", "rgba", "cmyk", "empty", "small"):
        cv2.imwrite(str(tmp_path / "alpha" / f"{name}.png"), alpha)
    for i in range(2):
        cv2.imwrite(str(tmp_path / "bg" / f"{i}.jpg"), np.full((40, 30, 3), 100, np.uint8))
    manifest = build_dataset(
        sources=[{"type": "matte_folder", "name": "odd", "root": str(tmp_path)}],
        backgrounds=[str(tmp_path / "bg")], out_dir=str(tmp_path / "out"), size=(40, 30),
        counts={"train": 8, "val": 0, "test": 0}, holdout={"val": 0.0, "test": 0.0}, workers=2,
    )  # fmt: skip
    reasons = {Path(s["path"]).name: s["reason"] for s in manifest["skipped"]}
    assert set(reasons) == {"empty.jpg", "small.png"}
    assert "empty" in reasons["empty.jpg"] and "alpha is 30x40 but small.png is 30x20" in reasons["small.png"]
    records = list(read_records(split_files(tmp_path / "out", "train")).as_numpy_iterator())
    used = {r[SAMPLE_ID].decode().split(":")[2].split("+")[0] for r in records}
    assert used == {"gray", "deep", "rgba", "cmyk"}


def test_estimated_foregrounds_are_computed_once_per_process(tmp_path, monkeypatch):
    from matting.data import foreground_cache
    from matting.data.build import make_composite
    from matting.data.sources import Foreground, load_sources

    for sub in ("original", "mask"):
        (tmp_path / sub).mkdir()
    cv2.imwrite(str(tmp_path / "original" / "a.png"), np.full((30, 20, 3), 120, np.uint8))
    alpha = np.tile(np.linspace(0, 255, 20).astype(np.uint8), (30, 1))
    cv2.imwrite(str(tmp_path / "mask" / "a.png"), alpha)
    entry = {"type": "matte_folder", "root": str(tmp_path), "fg_dir": "original", "alpha_dir": "mask"}
    (item,), _ = load_sources([{**entry, "estimate_foreground": True}])
    loads = []
    load = Foreground.load
    monkeypatch.setattr(Foreground, "load", lambda self: loads.append(self.key) or load(self))
    monkeypatch.setattr(foreground_cache, "_ESTIMATED", type(foreground_cache._ESTIMATED)())
    bg = tmp_path / "bg.jpg"
    cv2.imwrite(str(bg), np.zeros((30, 20, 3), np.uint8))
    for seed in range(3):
        make_composite(item, bg, (30, 20), np.random.default_rng(seed))
    assert loads == ["a"]
    fg, kept_alpha = foreground_cache.load_foreground(item)
    assert not fg.flags.writeable and not kept_alpha.flags.writeable  # no composite can change them
    cv2.imwrite(str(tmp_path / "mask" / "a.png"), 255 - alpha)  # a changed file is read again
    os.utime(tmp_path / "mask" / "a.png", ns=(1, 1))
    make_composite(item, bg, (30, 20), np.random.default_rng(0))
    assert loads == ["a", "a"]
    (plain,), _ = load_sources([entry])
    make_composite(plain, bg, (30, 20), np.random.default_rng(0))
    make_composite(plain, bg, (30, 20), np.random.default_rng(0))
    assert loads == ["a", "a", "a", "a"]  # a photo used as it is: not kept


def test_folders_of_another_builder_version_are_refused_and_stale_files_of_live_builds_kept(tmp_path):
    import subprocess
    import sys

    from matting.io.files import remove_stale_temporaries

    kwargs = _small_build(tmp_path)
    build_dataset(**kwargs)
    build_file = tmp_path / "out" / "build.json"
    old = json.loads(build_file.read_text())
    del old["builder"]  # as the builder wrote it before versions
    build_file.write_text(json.dumps(old))
    with pytest.raises(DataError, match="another version of the dataset builder .version 1, this one is 2"):
        build_dataset(**kwargs)

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
        files = {pid: tmp_path / "out" / f".train-00000-of-00001.tfrecord.{pid}.tmp"
                 for pid in (live.pid, int(dead.stdout))}  # fmt: skip
        for file in files.values():
            file.write_bytes(b"partial")
        remove_stale_temporaries(tmp_path / "out")
        assert files[live.pid].exists() and not files[int(dead.stdout)].exists()
    finally:
        live.kill()
