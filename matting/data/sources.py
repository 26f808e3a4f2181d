"""Foreground sources and background folders, as config entries.

A foreground source lists :class:`Foreground` items; each loads as ``(fg, alpha)``: uint8 RGB
``[H, W, 3]`` and uint8 alpha ``[H, W]``. Sources are built from config entries such as
``{"type": "matte_folder", "root": "data/raw/synthetic", "fg_dir": "fg", "alpha_dir": "alpha"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matting.errors import ConfigError, DataError
from matting.io import list_images, read_alpha, read_image


@dataclass(frozen=True)
class Foreground:
    """One person (or object) foreground: an image and its alpha matte on disk."""

    source: str
    key: str  # unique within its source: the basename without extension
    fg_path: Path
    alpha_path: Path
    coarse_quality: bool = False  # alpha is only a coarse mask (COCO polygons, binary masks)

    @property
    def id(self) -> str:
        return f"{self.source}:{self.key}"

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """``(fg, alpha)`` as uint8 arrays; a size mismatch is a :class:`DataError`."""
        fg, alpha = read_image(self.fg_path), read_alpha(self.alpha_path)
        if fg.shape[:2] != alpha.shape:
            raise DataError(
                f"{self.alpha_path}: alpha is {alpha.shape[1]}x{alpha.shape[0]} but "
                f"{self.fg_path.name} is {fg.shape[1]}x{fg.shape[0]}"
            )
        return fg, alpha


def matte_folder(
    root: str, *, name: str = "matte", fg_dir: str = "fg", alpha_dir: str = "alpha"
) -> tuple[list[Foreground], list[dict]]:
    """Foregrounds of an alpha-matte folder: ``root/fg_dir/X.*`` paired with ``root/alpha_dir/X.*``.

    This is the layout of Adobe Composition-1k, AIM-500 and Distinctions-646 (``fg`` + ``alpha``),
    and of the embedded synthetic dataset. Returns the items and the skipped files with reasons
    (a foreground without its alpha).
    """
    fg_files = list_images(Path(root) / fg_dir)
    alphas = {p.stem: p for p in list_images(Path(root) / alpha_dir)}
    items, skipped = [], []
    for path in fg_files:
        if path.stem in alphas:
            items.append(Foreground(name, path.stem, path, alphas[path.stem]))
        else:
            skipped.append({"path": str(path), "reason": f"no alpha named {path.stem}.* in {alpha_dir}/"})
    return items, skipped


SOURCE_TYPES = {"matte_folder": matte_folder}


def load_sources(entries: list[dict]) -> tuple[list[Foreground], list[dict]]:
    """Build every foreground source from its config entry; returns all items and all skips."""
    if not entries:
        raise ConfigError("data.sources is empty: name at least one foreground source")
    items, skipped = [], []
    for entry in entries:
        entry = dict(entry)
        kind = entry.pop("type", None)
        if kind not in SOURCE_TYPES:
            raise ConfigError(f"unknown foreground source type {kind!r}; known: {sorted(SOURCE_TYPES)}")
        more, why = SOURCE_TYPES[kind](**entry)
        items += more
        skipped += why
    return items, skipped


def list_backgrounds(folders: list[str]) -> list[Path]:
    """Every image below each background folder; a missing or image-less folder is fatal."""
    if not folders:
        raise ConfigError("data.backgrounds is empty: name at least one background folder")
    return [path for folder in folders for path in list_images(folder)]
