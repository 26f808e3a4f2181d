"""Photo records: real photos used as they are (their own background, their mask as alpha), mixed
into each split at ``data.build.photo_share``, on tiny JPEG photos + PNG masks the tests write."""

import json

import cv2
import numpy as np
import pytest
import tensorflow as tf

from matting.data.build import build_dataset, make_photo
from matting.data.composite import cover_window, resize_image
from matting.data.features import (
    ALPHA,
    BACKGROUND,
    COARSE,
    COARSE_QUALITY,
    FOREGROUND,
    IMAGE,
    SAMPLE_ID,
    SOURCE,
    parse_example,
)
from matting.data.sources import load_sources, soften
from matting.errors import ConfigError, DataError
from matting.io.images import read_alpha, read_image

PHOTO_SIZE, SIZE = (60, 40), (48, 40)  # the frame is as wide as the photos: a crop, no scaling


def write_photos(root, count, *, seed=0):
    """``count`` JPEG photos and PNG person masks. The photos are a grey texture (every crop is told
    apart; grey, so that JPEG's halved colour resolution does not blur it) under a tint of their own."""
    rng = np.random.default_rng(seed)
    for sub in ("image", "mask"):
        (root / sub).mkdir(parents=True)
    h, w = PHOTO_SIZE
    for i in range(count):
        grey = cv2.GaussianBlur(rng.integers(0, 256, (h, w), np.uint8), (0, 0), 1.0)
        grey = cv2.normalize(grey, None, 0, 200, cv2.NORM_MINMAX)
        photo = cv2.merge([grey + np.uint8(5 * (i + c)) for c in range(3)])
        mask = np.zeros((h, w), np.uint8)
        cv2.ellipse(mask, (w // 2 + i % 5 - 2, h // 2), (12, 24), 0, 0, 360, 255, -1)
        cv2.imwrite(str(root / "image" / f"p{i}.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(root / "mask" / f"p{i}.png"), mask)
    return root


@pytest.fixture
def inputs(tmp_path):
    """A mask folder of 10 photos, one of 6 composite foregrounds, and 6 backgrounds."""
    write_photos(tmp_path / "people", 10)
    write_photos(tmp_path / "cutouts", 6, seed=1)
    (tmp_path / "bg").mkdir()
    for i in range(6):
        cv2.imwrite(str(tmp_path / "bg" / f"{i}.jpg"), np.full((50, 50, 3), 40 * i, np.uint8))
    return tmp_path


def settings(root, out="out", **kw):
    return {
        "sources": [
            {"type": "mask_folder", "name": "people", "root": str(root / "people"), "uses": ["photo"]},
            {"type": "mask_folder", "name": "cutouts", "root": str(root / "cutouts")},
        ],
        "backgrounds": [str(root / "bg")],
        "out_dir": str(root / out),
        "size": SIZE,
        "counts": {"train": 8, "val": 4, "test": 5},
        "holdout": {"val": 0.2, "test": 0.2},
        "samples_per_shard": 3,
        "layers": True,
        "photo_share": 0.5,
        **kw,
    }


def records(out, split):
    files = sorted(str(p) for p in out.glob(f"{split}-*.tfrecord"))
    return [
        {k: v.numpy() for k, v in parse_example(r, with_layers=True).items()}
        for r in tf.data.TFRecordDataset(files)
    ]


def digests(manifest):
    return {s: [x["sha256"] for x in info["shards"]] for s, info in manifest["splits"].items()}


def test_photo_share_mixes_photos_evenly_into_each_split_and_keeps_them_to_one_split(inputs):
    manifest = build_dataset(**settings(inputs))
    listing = json.loads((inputs / "out" / "splits.json").read_text())
    used = {}
    for split, count in {"train": 8, "val": 4, "test": 5}.items():
        info, photos = manifest["splits"][split], count // 2
        expected = (count, photos, {"people": photos})
        assert (info["count"], info["photos"], info["photos_by_source"]) == expected
        assert info["by_source"] == {"cutouts": count - photos}
        ids = [r[SAMPLE_ID].decode() for r in records(inputs / "out", split)]
        # Sample i is a photo where floor((i + 1) * 0.5) steps up: every odd index.
        assert [i.endswith("+photo") for i in ids] == [n % 2 == 1 for n in range(count)]
        used[split] = {i.split(":", 1)[1].removesuffix("+photo") for i in ids if i.endswith("+photo")}
        assert used[split] <= set(listing[split]["photos"])
        assert info["photo_items"] == len(listing[split]["photos"])
        assert len(used[split]) == min(photos, len(listing[split]["photos"]))  # round-robin
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not set(listing[a]["photos"]) & set(listing[b]["photos"]) and not used[a] & used[b]


def test_the_same_config_gives_the_same_bytes(inputs):
    first, again = build_dataset(**settings(inputs)), build_dataset(**settings(inputs, out="again"))
    assert digests(first) == digests(again)


@pytest.mark.slow  # two fresh processes importing TensorFlow: about 25 s on 2 cores
def test_two_processes_write_the_same_bytes_as_one(inputs):
    one = build_dataset(**settings(inputs))
    assert digests(build_dataset(**settings(inputs, out="two", workers=2))) == digests(one)


def test_a_photo_record_is_a_crop_of_its_photo_and_mask_and_both_of_its_layers(inputs):
    build_dataset(**settings(inputs))
    h = SIZE[0]
    checked = 0
    for split in ("train", "val", "test"):
        for r in records(inputs / "out", split):
            if not r[SAMPLE_ID].endswith(b"+photo"):
                continue
            name = r[SAMPLE_ID].decode().split(":")[2].removesuffix("+photo")
            photo = read_image(inputs / "people" / "image" / f"{name}.jpg") / 255.0
            alpha = soften(read_alpha(inputs / "people" / "mask" / f"{name}.png"), 1.0)  # the default feather
            # The photo's rows that the record shows: the crop nearest to it among all.
            errors = [np.abs(photo[top : top + h] - r[IMAGE]).mean() for top in range(PHOTO_SIZE[0] - h + 1)]
            top = int(np.argmin(errors))
            assert errors[top] < 0.01 < sorted(errors)[1] / 3  # JPEG twice; any other crop is far off
            np.testing.assert_array_equal(np.rint(r[ALPHA][..., 0] * 255), alpha[top : top + h])
            np.testing.assert_array_equal(r[COARSE][..., 0] > 0.5, r[ALPHA][..., 0] >= 128 / 255)
            assert r[SOURCE] == b"people" and r[COARSE_QUALITY] == 1
            # Both layers are the photo: the compositional loss (pred - alpha) * (fg - bg) is 0 on it.
            np.testing.assert_array_equal(r[FOREGROUND], r[BACKGROUND])
            assert np.abs(r[FOREGROUND] - r[IMAGE]).mean() < 0.02  # JPEG at layer_quality 90
            checked += 1
    assert checked == 4 + 2 + 2


def test_photo_zoom_crops_a_smaller_window_and_no_zoom_keeps_the_whole_width(tmp_path):
    write_photos(tmp_path, 1)
    entry = {"type": "mask_folder", "root": str(tmp_path), "feather": 0, "uses": ["photo"]}
    (item,), _ = load_sources([entry])
    photo, mask = read_image(item.fg_path), read_alpha(item.alpha_path)
    _, alpha, _, _ = make_photo(item, SIZE, np.random.default_rng(0))
    person_columns = (mask > 0).any(axis=0).sum()
    assert (alpha > 0).any(axis=0).sum() == person_columns  # no zoom: the person's whole width
    zoomed, _, _, layers = make_photo(item, SIZE, np.random.default_rng(0), zoom=2.0, with_layers=True)
    assert layers[0] is zoomed and layers[1] is zoomed
    windows = [(h, w) for h in range(24, 49) for w in range(20, 41) if abs(w - h * 40 / 48) <= 1]
    matches = [
        (h, top, left)
        for h, w in windows
        for top in range(61 - h)
        for left in range(41 - w)
        if np.array_equal(resize_image(photo[top : top + h, left : left + w], SIZE), zoomed)
    ]
    assert len(matches) == 1 and matches[0][0] < 48  # a window zoomed in 1 to 2 times, scaled up


def test_photo_squeeze_gives_the_whole_photo_resized_as_inference_does(tmp_path):
    write_photos(tmp_path, 1)
    entry = {"type": "mask_folder", "root": str(tmp_path), "feather": 0, "uses": ["photo"]}
    (item,), _ = load_sources([entry])
    photo, mask = read_image(item.fg_path), read_alpha(item.alpha_path)
    assert photo.shape[0] * SIZE[1] != photo.shape[1] * SIZE[0]  # another aspect than the frame's
    squeezed, alpha, _, _ = make_photo(item, SIZE, np.random.default_rng(0), zoom=2.0, squeeze=1.0)
    np.testing.assert_array_equal(squeezed, resize_image(photo, SIZE))
    np.testing.assert_array_equal(alpha, resize_image(mask, SIZE))
    # squeeze 0 draws nothing more: the crop is the one the generator gave before the option
    for seed in range(3):
        rng = np.random.default_rng(seed)
        window = cover_window(photo.shape, SIZE, rng, rng.uniform(1.0, 2.0))
        none = make_photo(item, SIZE, np.random.default_rng(seed), zoom=2.0, squeeze=0.0)
        np.testing.assert_array_equal(none[0], resize_image(photo[window], SIZE))
    # with 0.5, some photos of a build come whole and some cropped
    whole = [
        np.array_equal(make_photo(item, SIZE, np.random.default_rng(seed), squeeze=0.5)[0], squeezed)
        for seed in range(20)
    ]
    assert 3 <= sum(whole) <= 17


def test_with_share_zero_the_uses_option_changes_no_composite(inputs):
    entry = {"type": "mask_folder", "name": "cutouts", "root": str(inputs / "cutouts")}
    common = {key: value for key, value in settings(inputs).items() if key not in ("sources", "photo_share")}
    plain = build_dataset(**{**common, "out_dir": str(inputs / "plain"), "sources": [entry]})
    both = build_dataset(
        **{**common, "out_dir": str(inputs / "both"), "sources": [{**entry, "uses": ["composite", "photo"]}]},
        photo_share=0.0,
    )
    assert digests(plain) == digests(both) and all(info["photos"] == 0 for info in both["splits"].values())
    listing = json.loads((inputs / "both" / "splits.json").read_text())
    assert all(listing[s]["photos"] == listing[s]["foregrounds"] for s in listing)  # one item, one split


def test_an_item_used_both_ways_is_in_one_split(inputs):
    both = {**settings(inputs)["sources"][0], "uses": ["composite", "photo"]}
    build_dataset(**settings(inputs, sources=[both]))
    split_of, uses = {}, {}
    for split in ("train", "val", "test"):
        for r in records(inputs / "out", split):
            item, used_as = r[SAMPLE_ID].decode().split(":", 1)[1].split("+")
            assert split_of.setdefault(item, split) == split
            uses.setdefault(item, set()).add("photo" if used_as == "photo" else "composite")
    assert {"composite", "photo"} in uses.values()  # some item served both ways


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"photo_share": 1.5}, r"data.build.photo_share must be a number in \[0, 1\].*got 1.5"),
        ({"photo_share": -0.1}, r"data.build.photo_share must be a number in \[0, 1\]"),
        ({"photo_share": "half"}, r"data.build.photo_share must be a number.*got 'half'"),
        ({"photo_zoom": 0.5}, r"data.build.photo_zoom must be a number >= 1"),
        ({"photo_squeeze": 2}, r"data.build.photo_squeeze must be a number in \[0, 1\].*got 2"),
        ({"sources": [{"type": "mask_folder", "root": "."}]}, r"data.build.photo_share is 0.5 but no entry"),
        (
            {"sources": [{"type": "mask_folder", "root": ".", "uses": ["photo", "paste"]}]},
            r"uses must be a non-empty list",
        ),
        (
            {"sources": [{"type": "mask_folder", "root": ".", "uses": "photo"}]},
            r"uses must be a non-empty list",
        ),
        ({"sources": [{"type": "coco", "annotations": "a", "images": "i", "uses": ["photo"]}]}, "'uses'"),
    ],
)
def test_bad_photo_settings_are_refused_naming_the_key(inputs, change, match):
    with pytest.raises(ConfigError, match=match):
        build_dataset(**{**settings(inputs), **change})
    assert not (inputs / "out").exists()  # refused before anything is written


def test_a_split_without_the_photos_or_foregrounds_it_needs_names_the_split_and_the_fix(inputs):
    one = inputs / "one"
    write_photos(one, 1)  # a source of one item: it stays in train
    sources = settings(inputs)["sources"][1:] + [
        {"type": "mask_folder", "name": "one", "root": str(one), "uses": ["photo"]}
    ]
    with pytest.raises(DataError, match=r"split 'val' needs 2 photo records but got no photo: add photos"):
        build_dataset(**settings(inputs, sources=sources))
    only_photos = settings(inputs)["sources"][:1]
    with pytest.raises(DataError, match=r"split 'train' got 0 foregrounds .* uses include composite"):
        build_dataset(**settings(inputs, out="other", sources=only_photos))
    manifest = build_dataset(**settings(inputs, out="all", sources=only_photos, photo_share=1.0))
    assert all(info["photos"] == info["count"] for info in manifest["splits"].values())


def test_broken_photos_are_counted_skips_with_their_reason(inputs):
    people = inputs / "people"
    cv2.imwrite(str(people / "mask" / "p3.png"), np.zeros((20, 40), np.uint8) + 255)  # another size
    (people / "image" / "p4.jpg").write_bytes(b"\xff\xd8 truncated")
    manifest = build_dataset(**settings(inputs))
    reasons = {s["path"].rsplit("/", 1)[1]: s["reason"] for s in manifest["skipped"]}
    assert set(reasons) == {"p3.jpg", "p4.jpg"}
    assert "alpha is 40x20 but p3.jpg is 40x60" in reasons["p3.jpg"]
    assert "not a readable image" in reasons["p4.jpg"]
    listing = json.loads((inputs / "out" / "splits.json").read_text())
    assert sum(len(listing[s]["photos"]) for s in listing) == 8
