"""The nets of the pipeline: the card's U-Nets (``arch="unet"``) and the fast pair (``arch="fast"``),
chosen by ``model.coarse.arch`` / ``model.fine.arch``. Importing this package registers the custom
layers that ``keras.models.load_model`` needs for the ``.keras`` files."""

from __future__ import annotations

import keras

from matting.errors import ConfigError
from matting.models.fast import build_coarse_fast, build_fine_fast
from matting.models.unet import build_coarse_unet, build_fine_unet

# arch -> (coarse builder, refinement builder)
ARCHS = {"unet": (build_coarse_unet, build_fine_unet), "fast": (build_coarse_fast, build_fine_fast)}


def builders(arch: str):
    """The (coarse, refinement) builders of ``arch``."""
    if arch not in ARCHS:
        raise ConfigError(f"model arch must be one of {sorted(ARCHS)}, got {arch!r}")
    return ARCHS[arch]


def build_coarse(arch: str = "unet", **kwargs) -> keras.Model:
    """The coarse net of ``arch``: ``[B, H, W, 3]`` image -> ``[B, H, W, 1]`` person mask."""
    return builders(arch)[0](**kwargs)


def build_fine(arch: str = "unet", **kwargs) -> keras.Model:
    """The refinement net of ``arch``: ``[B, H, W, 4]`` image + mask -> ``[B, H, W, 1]`` alpha."""
    return builders(arch)[1](**kwargs)


__all__ = [
    "ARCHS",
    "build_coarse",
    "build_coarse_fast",
    "build_coarse_unet",
    "build_fine",
    "build_fine_fast",
    "build_fine_unet",
    "builders",
]
