"""The dataset on disk: :func:`write_synthetic_dataset`, its manifest and :func:`item_rng`."""

from __future__ import annotations

import json
import os
import re
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np

from matting.data.synthetic.background import generate_background
from matting.data.synthetic.person import generate_person
from matting.data.synthetic.sizes import check_size
from matting.io.codecs import encode_jpeg, encode_png
from matting.io.files import remove_stale_temporaries, write_atomic

#: Bumped whenever the generator's output changes, so stale datasets on disk are rewritten.
FORMAT_VERSION = 1

_ITEM_KINDS = {"fg": 0, "bg": 1}
_MANIFEST_NAME = "synthetic.json"
# The package, not this module: the name is part of the manifest, so another one would make every
# existing dataset look stale.
_GENERATOR = "matting.data.synthetic"


def item_rng(seed: int, kind: str, index: int) -> np.random.Generator:
    """Return the random generator of one dataset item.

    Args:
        seed: dataset seed (non-negative).
        kind: ``"fg"`` for a foreground / alpha pair, ``"bg"`` for a background.
        index: item index (non-negative).
    """
    if kind not in _ITEM_KINDS:
        raise ValueError(f"kind must be one of {sorted(_ITEM_KINDS)}, got {kind!r}")
    return np.random.default_rng([seed, _ITEM_KINDS[kind], index])


def _check_count(value: Any, name: str) -> int:
    """``value`` as an int; ValueError unless it is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _remove_leftovers(folder: Path, extension: str, count: int) -> None:
    """Delete items beyond ``count`` from an earlier, larger run and temporaries of killed runs."""
    item = re.compile(rf"(\d{{5}})\{extension}")
    for path in folder.iterdir():
        match = item.fullmatch(path.name)
        if match is not None and int(match.group(1)) >= count:
            path.unlink()
    remove_stale_temporaries(folder)


def _read_manifest(path: Path) -> dict[str, Any] | None:
    """The parsed manifest, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_synthetic_dataset(
    root: str | os.PathLike[str],
    *,
    num_foregrounds: int,
    num_backgrounds: int,
    fg_size: tuple[int, int] = (384, 320),
    bg_size: tuple[int, int] = (384, 320),
    seed: int = 0,
) -> dict[str, Any]:
    """Write (or reuse) a synthetic alpha-matte dataset in Composition-1k layout.

    Writes ``root/fg/{i:05d}.png`` (RGB), ``root/alpha/{i:05d}.png`` (8-bit grey),
    ``root/bg/{i:05d}.jpg`` (quality 95) and finally ``root/synthetic.json`` with the arguments.
    If that manifest already matches the arguments and every file is present, nothing is
    written. Otherwise the manifest is removed first, every file is written through a temporary
    name and ``os.replace``, leftovers of earlier runs are removed and the manifest is written
    last, so an interrupted run never looks complete.

    Args:
        root: dataset folder (created if missing).
        num_foregrounds: number of foreground / alpha pairs (> 0).
        num_backgrounds: number of backgrounds (> 0).
        fg_size: ``(height, width)`` of foregrounds, each at least 32.
        bg_size: ``(height, width)`` of backgrounds, each at least 32.
        seed: non-negative dataset seed; item ``i`` uses ``item_rng(seed, kind, i)``.

    Returns:
        dict with ``root``, ``fg_dir``, ``alpha_dir``, ``bg_dir``, ``manifest`` (Paths), ``fg``,
        ``alpha``, ``bg`` (lists of Paths), ``num_foregrounds``, ``num_backgrounds`` and
        ``generated`` (False when an existing complete dataset was reused).

    Raises:
        ValueError: for non-positive counts, bad sizes or a negative seed.
    """
    num_foregrounds = _check_count(num_foregrounds, "num_foregrounds")
    num_backgrounds = _check_count(num_backgrounds, "num_backgrounds")
    fg_size, bg_size = check_size(fg_size, "fg_size"), check_size(bg_size, "bg_size")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")

    root = Path(root)
    manifest = {
        "generator": _GENERATOR,
        "format_version": FORMAT_VERSION,
        "num_foregrounds": num_foregrounds,
        "num_backgrounds": num_backgrounds,
        "fg_size": list(fg_size),
        "bg_size": list(bg_size),
        "seed": int(seed),
    }
    folders = {"fg": root / "fg", "alpha": root / "alpha", "bg": root / "bg"}
    files = {
        "fg": [folders["fg"] / f"{i:05d}.png" for i in range(num_foregrounds)],
        "alpha": [folders["alpha"] / f"{i:05d}.png" for i in range(num_foregrounds)],
        "bg": [folders["bg"] / f"{i:05d}.jpg" for i in range(num_backgrounds)],
    }
    manifest_path = root / _MANIFEST_NAME
    result = {
        "root": root,
        "fg_dir": folders["fg"],
        "alpha_dir": folders["alpha"],
        "bg_dir": folders["bg"],
        "manifest": manifest_path,
        **files,
        "num_foregrounds": num_foregrounds,
        "num_backgrounds": num_backgrounds,
    }
    all_files = [path for paths in files.values() for path in paths]
    if _read_manifest(manifest_path) == manifest and all(path.is_file() for path in all_files):
        return {**result, "generated": False}

    manifest_path.unlink(missing_ok=True)
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for i in range(num_foregrounds):
        fg, alpha = generate_person(item_rng(seed, "fg", i), fg_size)
        write_atomic(files["fg"][i], encode_png(fg))
        write_atomic(files["alpha"][i], encode_png(alpha))
    for i in range(num_backgrounds):
        background = generate_background(item_rng(seed, "bg", i), bg_size)
        write_atomic(files["bg"][i], encode_jpeg(background, quality=95))
    _remove_leftovers(folders["fg"], ".png", num_foregrounds)
    _remove_leftovers(folders["alpha"], ".png", num_foregrounds)
    _remove_leftovers(folders["bg"], ".jpg", num_backgrounds)
    write_atomic(manifest_path, (json.dumps(manifest, indent=2) + "\n").encode())
    return {**result, "generated": True}
