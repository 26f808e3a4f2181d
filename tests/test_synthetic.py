"""Tests for the procedural synthetic matting dataset."""

import json

import cv2
import numpy as np
import pytest

from matting.data.synthetic import (
    generate_background,
    generate_person,
    item_rng,
    write_synthetic_dataset,
)

FG_SIZE = (96, 80)
BG_SIZE = (64, 72)


def _write(root, seed=0, num_foregrounds=4, num_backgrounds=2):
    return write_synthetic_dataset(
        root,
        num_foregrounds=num_foregrounds,
        num_backgrounds=num_backgrounds,
        fg_size=FG_SIZE,
        bg_size=BG_SIZE,
        seed=seed,
    )


def _read(path):
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


def _all_files(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return root, _write(root, num_foregrounds=6, num_backgrounds=3)


def test_layout_and_counts(dataset):
    root, info = dataset
    assert sorted(p.name for p in (root / "fg").iterdir()) == [f"{i:05d}.png" for i in range(6)]
    assert sorted(p.name for p in (root / "alpha").iterdir()) == [f"{i:05d}.png" for i in range(6)]
    assert sorted(p.name for p in (root / "bg").iterdir()) == [f"{i:05d}.jpg" for i in range(3)]
    assert info["num_foregrounds"] == 6 and info["num_backgrounds"] == 3
    assert info["generated"] is True
    assert info["fg"] == [root / "fg" / f"{i:05d}.png" for i in range(6)]
    assert info["bg_dir"] == root / "bg" and info["manifest"] == root / "synthetic.json"
    manifest = json.loads((root / "synthetic.json").read_text())
    assert manifest["num_foregrounds"] == 6 and manifest["num_backgrounds"] == 3
    assert manifest["fg_size"] == list(FG_SIZE) and manifest["bg_size"] == list(BG_SIZE)
    assert manifest["seed"] == 0
    for bg_path in info["bg"]:
        background = _read(bg_path)
        assert background.shape == (*BG_SIZE, 3) and background.dtype == np.uint8


def test_fg_and_alpha_match(dataset):
    _, info = dataset
    for fg_path, alpha_path in zip(info["fg"], info["alpha"], strict=True):
        fg, alpha = _read(fg_path), _read(alpha_path)
        assert fg.shape == (*FG_SIZE, 3) and fg.dtype == np.uint8
        assert alpha.shape == FG_SIZE and alpha.dtype == np.uint8
        assert fg[alpha == 0].max() > 0, "fg colour must be defined where alpha is 0"


def test_files_hold_rgb_of_the_generators(dataset):
    _, info = dataset
    fg, alpha = generate_person(item_rng(0, "fg", 2), FG_SIZE)
    np.testing.assert_array_equal(cv2.cvtColor(_read(info["fg"][2]), cv2.COLOR_BGR2RGB), fg)
    np.testing.assert_array_equal(_read(info["alpha"][2]), alpha)
    background = generate_background(item_rng(0, "bg", 1), BG_SIZE)
    stored = cv2.cvtColor(_read(info["bg"][1]), cv2.COLOR_BGR2RGB).astype(int)
    assert np.abs(stored - background).mean() < 4  # JPEG q95, same channel order


def test_alpha_is_soft(dataset):
    _, info = dataset
    for alpha_path in info["alpha"]:
        alpha = _read(alpha_path)
        assert (alpha == 0).any() and (alpha == 255).any()
        partial = (alpha > 0) & (alpha < 255)
        assert partial.any()
        solid = (alpha > 127).astype(np.uint8)
        kernel = np.ones((3, 3), np.uint8)
        boundary = (cv2.dilate(solid, kernel) - cv2.erode(solid, kernel)).astype(bool)
        assert partial[boundary].mean() >= 0.02


def test_semi_transparent_regions_exist():
    """Veils, scarves and loose-hair bands: solid patches of mid alpha, not just thin edges."""
    with_patches = 0
    for index in range(8):
        _, alpha = generate_person(item_rng(5, "fg", index), (128, 112))
        mid = ((alpha > 76) & (alpha < 179)).astype(np.uint8)
        with_patches += cv2.erode(mid, np.ones((5, 5), np.uint8)).mean() > 0.001
    assert with_patches >= 3


def test_person_touches_bottom_and_has_plausible_size(dataset):
    _, info = dataset
    for alpha_path in info["alpha"]:
        alpha = _read(alpha_path)
        assert alpha[-2:].max() == 255
        assert (alpha[-1] == 255).mean() > 0.2
        assert 0.12 <= alpha.mean() / 255 <= 0.7


def test_same_seed_same_bytes_different_seed_differs(tmp_path, dataset):
    root, _ = dataset
    again = tmp_path / "again"
    _write(again, num_foregrounds=6, num_backgrounds=3)
    for first, second in zip(_all_files(root), _all_files(again), strict=True):
        assert first.relative_to(root) == second.relative_to(again)
        assert first.read_bytes() == second.read_bytes(), first.name

    other = tmp_path / "other"
    _write(other, seed=1, num_foregrounds=6, num_backgrounds=3)
    for kind in ("fg", "alpha", "bg"):
        ext = "jpg" if kind == "bg" else "png"
        a, b = root / kind / f"00000.{ext}", other / kind / f"00000.{ext}"
        assert a.read_bytes() != b.read_bytes()


def test_items_do_not_depend_on_count(tmp_path, dataset):
    root, _ = dataset
    small = tmp_path / "small"
    _write(small, num_foregrounds=2, num_backgrounds=1)
    for relative in ("fg/00001.png", "alpha/00001.png", "bg/00000.jpg"):
        assert (small / relative).read_bytes() == (root / relative).read_bytes()


def test_second_call_is_a_noop(tmp_path):
    root = tmp_path / "data"
    _write(root, num_foregrounds=2, num_backgrounds=1)
    mtimes = {p: p.stat().st_mtime_ns for p in _all_files(root)}
    info = _write(root, num_foregrounds=2, num_backgrounds=1)
    assert info["generated"] is False
    assert {p: p.stat().st_mtime_ns for p in _all_files(root)} == mtimes


def test_incomplete_or_changed_dataset_is_rewritten(tmp_path):
    root = tmp_path / "data"
    _write(root, num_foregrounds=3, num_backgrounds=2)
    (root / "alpha" / "00001.png").unlink()
    assert _write(root, num_foregrounds=3, num_backgrounds=2)["generated"] is True
    assert (root / "alpha" / "00001.png").is_file()

    info = _write(root, num_foregrounds=2, num_backgrounds=1)
    assert info["generated"] is True
    assert sorted(p.name for p in (root / "fg").iterdir()) == ["00000.png", "00001.png"]
    assert sorted(p.name for p in (root / "bg").iterdir()) == ["00000.jpg"]
    assert json.loads((root / "synthetic.json").read_text())["num_foregrounds"] == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_foregrounds": 0},
        {"num_foregrounds": -3},
        {"num_backgrounds": 0},
        {"num_foregrounds": 1.5},
        {"fg_size": (0, 80)},
        {"fg_size": (96, -1)},
        {"bg_size": (64,)},
        {"bg_size": None},
        {"seed": -1},
    ],
)
def test_invalid_arguments_raise(tmp_path, kwargs):
    arguments = {
        "num_foregrounds": 1,
        "num_backgrounds": 1,
        "fg_size": FG_SIZE,
        "bg_size": BG_SIZE,
        **kwargs,
    }
    with pytest.raises(ValueError):
        write_synthetic_dataset(tmp_path / "data", **arguments)
    assert not (tmp_path / "data").exists()


def test_generators_reject_bad_sizes():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        generate_person(rng, (0, 80))
    with pytest.raises(ValueError):
        generate_background(rng, (64, -5))
