"""The dataset builder and the TFRecord layout, on the tiny synthetic dataset."""

import json

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
    from matting.io import encode_png

    with pytest.raises(ValueError, match="1-bit PNG holds a single-channel mask"):
        encode_png(image, bilevel=True)


def test_manifest_counts_and_disjoint_foregrounds(tiny_root):
    manifest = json.loads((_shards(tiny_root) / "manifest.json").read_text())
    assert {s: manifest["splits"][s]["count"] for s in ("train", "val", "test")} == {
        "train": 24, "val": 4, "test": 6,
    }  # fmt: skip
    foregrounds = {}
    for split in ("train", "val", "test"):
        records = read_records(split_files(_shards(tiny_root), split)).as_numpy_iterator()
        foregrounds[split] = {r[SAMPLE_ID].decode().split(":", 1)[1].split("+")[0] for r in records}
    assert not foregrounds["train"] & foregrounds["test"]
    assert not foregrounds["train"] & foregrounds["val"]
    assert not foregrounds["val"] & foregrounds["test"]


def test_same_seed_gives_identical_shards_and_resume_rewrites_only_missing(tiny_root, tmp_path):
    cfg = compose_config("build_dataset", tiny_overrides(tiny_root) + [f"data.shards_dir={tmp_path}/again"])
    first = build(cfg)
    original = json.loads((_shards(tiny_root) / "manifest.json").read_text())
    digests = lambda m: {s: [x["sha256"] for x in m["splits"][s]["shards"]] for s in m["splits"]}  # noqa: E731
    assert digests(first) == digests(original)

    # A build killed after writing some shards: remove the manifest and one shard, then run again.
    again = tmp_path / "again"
    (again / "manifest.json").unlink()
    (again / "train-00001-of-00003.tfrecord").unlink()
    kept = (again / "train-00000-of-00003.tfrecord").stat().st_mtime_ns
    resumed = build(cfg)
    assert digests(resumed) == digests(original)
    assert (again / "train-00000-of-00003.tfrecord").stat().st_mtime_ns == kept
    assert not list(again.glob(".*.tmp"))


def test_folder_with_another_build_is_refused(tiny_root):
    cfg = compose_config("build_dataset", tiny_overrides(tiny_root) + ["data.build.seed=7"])
    with pytest.raises(DataError, match="other settings"):
        build(cfg)


def test_a_build_folder_is_not_reused_after_its_input_files_change(tmp_path):
    from matting.data.synthetic import write_synthetic_dataset

    raw = tmp_path / "raw"
    write_synthetic_dataset(raw, num_foregrounds=6, num_backgrounds=6, fg_size=(48, 40), bg_size=(48, 40))
    kwargs = dict(
        sources=[{"type": "matte_folder", "name": "s", "root": str(raw)}], backgrounds=[str(raw / "bg")],
        out_dir=str(tmp_path / "out"), size=(32, 32), counts={"train": 4, "val": 2, "test": 2},
        holdout={"val": 0.2, "test": 0.2},
    )  # fmt: skip
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
    for record in read_records(files, layers=True).take(8):
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


def test_worker_processes_write_the_same_bytes(tiny_root, tmp_path):
    cfg = compose_config(
        "build_dataset",
        tiny_overrides(tiny_root) + [f"data.shards_dir={tmp_path}/parallel", "data.build.workers=2"],
    )
    parallel = build(cfg)
    original = json.loads((_shards(tiny_root) / "manifest.json").read_text())
    for split in ("train", "val", "test"):
        assert parallel["splits"][split]["shards"] == original["splits"][split]["shards"]
