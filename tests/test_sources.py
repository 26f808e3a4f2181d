"""Foreground sources on data the tests generate in the real formats: a COCO instances file (RLE and
polygons, written with pycocotools), alpha-matte folders in their layouts, mask folders."""

import json

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from matting.data.build import build_dataset
from matting.data.sources import list_backgrounds, load_sources
from matting.errors import ConfigError, DataError


def person_mask(h, w, box):
    x, y, bw, bh = box
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (x + bw // 2, y + bh // 2), (bw // 2, bh // 2), 0, 0, 360, 1, -1)
    return mask


@pytest.fixture
def coco_dir(tmp_path):
    """Five photos: persons as RLE and as polygons, a crowd, a tiny person, a four-person photo,
    an empty segmentation, and one image listed but missing on disk."""
    rng = np.random.default_rng(0)
    images, anns = [], []
    (tmp_path / "images").mkdir()

    def add_image(image_id, h=120, w=100, write=True):
        name = f"{image_id:012d}.jpg"
        if write:
            cv2.imwrite(str(tmp_path / "images" / name), rng.integers(0, 256, (h, w, 3), np.uint8))
        images.append({"id": image_id, "file_name": name, "height": h, "width": w})

    def add_person(image_id, box, *, polygon=False, crowd=0, h=120, w=100):
        mask = person_mask(h, w, box)
        if polygon:
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            segmentation = [c.flatten().astype(float).tolist() for c in contours]
        else:
            rle = mask_utils.encode(np.asfortranarray(mask))
            segmentation = {"size": rle["size"], "counts": rle["counts"].decode()}
        anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1, "iscrowd": crowd,
                     "bbox": list(box), "area": float(mask.sum()), "segmentation": segmentation})  # fmt: skip

    add_image(1)
    add_person(1, (10, 10, 60, 100))  # RLE
    add_person(1, (60, 30, 30, 80), polygon=True)  # second person of the same photo
    add_image(2)
    add_person(2, (20, 20, 50, 90), polygon=True)
    add_person(2, (0, 0, 99, 119), crowd=1)  # crowd: ignored
    add_image(3)
    add_person(3, (5, 5, 8, 8))  # too small
    add_image(4)
    for x in (0, 25, 50, 75):
        add_person(4, (x, 10, 24, 100))  # four persons: over max_persons=3
    add_image(5, write=False)
    add_person(5, (10, 10, 60, 100))  # image missing on disk
    add_image(6)
    anns.append({"id": 99, "image_id": 6, "category_id": 1, "iscrowd": 0, "bbox": [1, 1, 80, 80],
                 "area": 6400.0, "segmentation": []})  # fmt: skip
    data = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
    (tmp_path / "instances.json").write_text(json.dumps(data))
    return tmp_path


def coco_entry(root, **kw):
    return {"type": "coco", "annotations": str(root / "instances.json"), "images": str(root / "images"),
            "min_box": 16, **kw}  # fmt: skip


def test_coco_persons_with_filters_and_skips(coco_dir):
    items, skipped = load_sources([coco_entry(coco_dir)])
    assert sorted(i.key for i in items) == ["1_1", "1_2", "2_3"]
    assert all(i.coarse_quality for i in items)
    reasons = {s["path"].rsplit("/", 1)[1]: s["reason"] for s in skipped}
    assert "too small" in reasons["000000000003.jpg#5"]
    assert "4 persons" in reasons["000000000004.jpg"]
    assert "missing" in reasons["000000000005.jpg"]
    assert "empty segmentation" in reasons["000000000006.jpg#99"]
    for item in items:  # RLE and polygons decode to a mask on the crop of the photo
        fg, alpha = item.load()
        assert fg.shape[:2] == alpha.shape and alpha.max() == 255
        assert ((alpha > 0) & (alpha < 255)).any()  # feathered edge
    single, _ = load_sources([coco_entry(coco_dir, single_person_only=True)])
    assert [i.key for i in single] == ["2_3"]


def test_persons_of_one_photo_stay_in_one_split(coco_dir, tmp_path):
    bg = tmp_path / "bg"
    bg.mkdir()
    for i in range(6):
        cv2.imwrite(str(bg / f"{i}.jpg"), np.full((50, 50, 3), i * 40, np.uint8))
    manifest = build_dataset(
        sources=[coco_entry(coco_dir)], backgrounds=[str(bg)], out_dir=str(tmp_path / "out"),
        size=(64, 48), counts={"train": 4, "val": 0, "test": 2}, holdout={"val": 0.0, "test": 0.5},
    )  # fmt: skip
    splits = json.loads((tmp_path / "out" / "splits.json").read_text())
    split_of = {fg: s for s in ("train", "test") for fg in splits[s]["foregrounds"]}
    assert split_of["coco:1_1"] == split_of["coco:1_2"]  # both persons of photo 1 together
    assert split_of["coco:2_3"] != split_of["coco:1_1"]  # and the other photo in the other split
    assert manifest["splits"]["test"]["foregrounds"] == len(splits["test"]["foregrounds"])


@pytest.mark.parametrize(
    ("content", "match"),
    [("{not json", "not a COCO instances file"), (json.dumps({"images": [], "annotations": [],
      "categories": [{"id": 3, "name": "car"}]}), "no 'person' category"),
     ("[]", "not a COCO instances file")],
)  # fmt: skip
def test_broken_annotation_files_name_the_path(tmp_path, content, match):
    (tmp_path / "instances.json").write_text(content)
    with pytest.raises(DataError, match=match) as error:
        load_sources([coco_entry(tmp_path)])
    assert "instances.json" in str(error.value)


def test_mask_folder_is_coarse_quality_with_a_soft_edge(tmp_path):
    for sub in ("image", "mask"):
        (tmp_path / sub).mkdir()
    cv2.imwrite(str(tmp_path / "image" / "p.jpg"), np.full((60, 40, 3), 128, np.uint8))
    cv2.imwrite(str(tmp_path / "mask" / "p.png"), person_mask(60, 40, (5, 5, 30, 50)) * 255)
    (item,), skipped = load_sources([{"type": "mask_folder", "root": str(tmp_path), "feather": 2.0}])
    assert item.coarse_quality and not skipped
    _, alpha = item.load()
    assert ((alpha > 0) & (alpha < 255)).sum() > 20


def test_original_and_mask_layout_estimates_the_foreground(tmp_path):
    """P3M-10k / AM-2k: the photo and its alpha; the foreground colours are estimated."""
    for sub in ("original", "mask"):
        (tmp_path / sub).mkdir()
    alpha = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (30, 1))
    red, green = np.array([30, 30, 230]), np.array([30, 200, 30])  # BGR
    photo = alpha[..., None] / 255 * red + (1 - alpha[..., None] / 255) * green
    cv2.imwrite(str(tmp_path / "original" / "a.png"), np.rint(photo).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "mask" / "a.png"), alpha)
    entry = {"type": "matte_folder", "root": str(tmp_path), "fg_dir": "original", "alpha_dir": "mask"}
    (plain,), _ = load_sources([entry])
    (estimated,), _ = load_sources([{**entry, "estimate_foreground": True}])
    (fg_plain, loaded), (fg_estimated, _) = plain.load(), estimated.load()
    soft = (loaded > 60) & (loaded < 190)
    green_in_plain = fg_plain[soft][:, 1].mean()  # RGB order: channel 1 is green
    green_in_estimated = fg_estimated[soft][:, 1].mean()
    assert green_in_plain > 80 and green_in_estimated < 50


def test_a_foreground_loads_cut_to_its_alpha_and_an_empty_alpha_is_refused(tmp_path):
    for sub in ("fg", "alpha"):
        (tmp_path / sub).mkdir()
    photo = np.random.default_rng(0).integers(0, 256, (50, 40, 3), dtype=np.uint8)
    alpha = np.zeros((50, 40), np.uint8)
    alpha[10:30, 5:25] = 200
    cv2.imwrite(str(tmp_path / "fg" / "a.png"), photo)
    cv2.imwrite(str(tmp_path / "alpha" / "a.png"), alpha)
    cv2.imwrite(str(tmp_path / "fg" / "b.png"), photo)
    cv2.imwrite(str(tmp_path / "alpha" / "b.png"), np.zeros((50, 40), np.uint8))
    (item, empty), _ = load_sources([{"type": "matte_folder", "root": str(tmp_path)}])
    fg, loaded = item.load()
    assert np.array_equal(loaded, alpha[10:30, 5:25])  # the box where the alpha is not 0
    assert np.array_equal(fg, photo[10:30, 5:25, ::-1])  # RGB of the same box
    with pytest.raises(DataError, match="b.png: the alpha is 0 everywhere"):
        empty.validate()


def test_foreground_and_alpha_of_different_sizes_is_skipped(tmp_path):
    for sub in ("fg", "alpha"):
        (tmp_path / sub).mkdir()
    cv2.imwrite(str(tmp_path / "fg" / "a.png"), np.zeros((20, 20, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "alpha" / "a.png"), np.zeros((10, 20), np.uint8))
    (item,), _ = load_sources([{"type": "matte_folder", "root": str(tmp_path)}])
    with pytest.raises(DataError, match="alpha is 20x10 but a.png is 20x20"):
        item.load()


def test_bad_source_entries(tmp_path):
    with pytest.raises(ConfigError, match="unknown foreground source type 'zip'"):
        load_sources([{"type": "zip"}])
    with pytest.raises(ConfigError, match="unexpected keyword argument 'colour'"):
        load_sources([{"type": "matte_folder", "root": str(tmp_path), "colour": 1}])
    with pytest.raises(DataError, match="no such COCO annotation file"):
        load_sources([coco_entry(tmp_path)])


@pytest.mark.parametrize(
    ("segmentation", "problem"),
    [({"size": [120, 100], "counts": "%%%not-rle"}, "invalid segmentation"),
     ([[10.0, 10.0]], "at least 6"), ([[]], "at least 6"), ([[1, 2, 3, 4]], "at least 6")],
)  # fmt: skip
def test_invalid_segmentations_are_counted_skips_of_a_build(coco_dir, tmp_path, segmentation, problem):
    """Bad RLE and polygons of under 3 points (on which pycocotools raises a bare Exception or
    reads a box) skip that person, listed in the manifest; the build goes on."""
    data = json.loads((coco_dir / "instances.json").read_text())
    data["annotations"][0]["segmentation"] = segmentation
    (coco_dir / "instances.json").write_text(json.dumps(data))
    items, _ = load_sources([coco_entry(coco_dir)])
    broken = next(i for i in items if i.key == "1_1")
    with pytest.raises(DataError, match=r"000000000001.jpg: instance 1_1 has an invalid segmentation"):
        broken.load()
    bg = tmp_path / "bg"
    bg.mkdir()
    for i in range(2):
        cv2.imwrite(str(bg / f"{i}.jpg"), np.full((50, 50, 3), 100, np.uint8))
    manifest = build_dataset(
        sources=[coco_entry(coco_dir)], backgrounds=[str(bg)], out_dir=str(tmp_path / "out"),
        size=(32, 24), counts={"train": 2, "val": 0, "test": 0}, holdout={"val": 0.0, "test": 0.0},
    )  # fmt: skip
    (skip,) = [s for s in manifest["skipped"] if "1_1" in s["reason"]]
    assert problem in skip["reason"] and skip["path"].endswith("000000000001.jpg")
    assert manifest["splits"]["train"]["foregrounds"] == 2  # persons 1_2 and 2_3 are still used


def test_coco_image_entries_without_sizes_are_skipped(coco_dir):
    data = json.loads((coco_dir / "instances.json").read_text())
    del data["images"][1]["height"]  # image 2
    (coco_dir / "instances.json").write_text(json.dumps(data))
    items, skipped = load_sources([coco_entry(coco_dir)])
    assert "2_3" not in {item.key for item in items} and {"1_1", "1_2"} <= {item.key for item in items}
    assert {
        "path": f"{coco_dir / 'instances.json'}#image2",
        "reason": "image entry lacks ['height']",
    } in skipped


def test_coco_images_without_persons_serve_as_backgrounds(coco_dir):
    data = json.loads((coco_dir / "instances.json").read_text())
    data["images"].append({"id": 7, "file_name": "street.jpg", "height": 50, "width": 60})
    (coco_dir / "instances.json").write_text(json.dumps(data))
    cv2.imwrite(str(coco_dir / "images" / "street.jpg"), np.zeros((50, 60, 3), np.uint8))
    entry = {
        "type": "coco",
        "annotations": str(coco_dir / "instances.json"),
        "images": str(coco_dir / "images"),
    }
    # Image 6 has only an empty annotation but is still a person image; street.jpg has none.
    assert [p.name for p in list_backgrounds([entry])] == ["street.jpg"]
    with pytest.raises(ConfigError, match="folder or"):
        list_backgrounds([{"type": "flickr"}])


def test_coco_matte_and_mask_folders_combine_in_one_build(coco_dir, tmp_path):
    """Three source types in one build: each is in train and in test (held out per source), the
    manifest counts composites per source, and records carry their source and quality flag."""
    from matting.data.features import COARSE_QUALITY, SOURCE
    from matting.data.pipeline import read_records, split_files

    for layout in (("mattes", "fg", "alpha"), ("masks", "image", "mask")):
        for sub in layout[1:]:
            (tmp_path / layout[0] / sub).mkdir(parents=True)
        for i in range(4):
            cv2.imwrite(
                str(tmp_path / layout[0] / layout[1] / f"{i}.png"), np.full((60, 40, 3), 50 * i, np.uint8)
            )
            cv2.imwrite(
                str(tmp_path / layout[0] / layout[2] / f"{i}.png"), person_mask(60, 40, (5, 5, 30, 50)) * 255
            )
    (tmp_path / "bg").mkdir()
    for i in range(6):
        cv2.imwrite(str(tmp_path / "bg" / f"{i}.jpg"), np.full((50, 50, 3), i * 40, np.uint8))
    sources = [
        coco_entry(coco_dir),  # 3 persons in 2 photos
        {"type": "matte_folder", "name": "mattes", "root": str(tmp_path / "mattes")},
        {"type": "mask_folder", "name": "masks", "root": str(tmp_path / "masks")},
    ]
    manifest = build_dataset(
        sources=sources, backgrounds=[str(tmp_path / "bg")], out_dir=str(tmp_path / "out"), size=(48, 40),
        counts={"train": 12, "val": 0, "test": 6}, holdout={"val": 0.0, "test": 0.3},
    )  # fmt: skip
    for split in ("train", "test"):
        assert set(manifest["splits"][split]["by_source"]) == {"coco", "mattes", "masks"}
        records = read_records(split_files(tmp_path / "out", split)).as_numpy_iterator()
        quality = {r[SOURCE].decode(): bool(r[COARSE_QUALITY]) for r in records}
        assert quality == {"coco": True, "mattes": False, "masks": True}
