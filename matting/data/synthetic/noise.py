"""Smooth and fractal noise, pixel coordinate grids and sinusoidal waves."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from matting.data.synthetic.sizes import Size


def smooth_noise(rng: np.random.Generator, size: Size, cells: Sequence[float]) -> np.ndarray:
    """Band-limited noise (roughly unit variance): a coarse random grid upsampled bicubically."""
    grid = rng.standard_normal((max(2, round(cells[0])), max(2, round(cells[1]))))
    return cv2.resize(grid.astype(np.float32), size[::-1], interpolation=cv2.INTER_CUBIC)


def fractal_noise(rng: np.random.Generator, size: Size, cells: float, octaves: int) -> np.ndarray:
    """Sum of octaves of smooth noise, normalised to unit standard deviation."""
    aspect = size[1] / size[0]
    total = np.zeros(size, np.float32)
    for octave in range(octaves):
        c = cells * 2**octave
        total += smooth_noise(rng, size, (c, c * aspect)) * 0.55**octave
    return total / max(float(total.std()), 1e-6)


def coords(size: Size) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre x and y coordinate grids (float32)."""
    ys, xs = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float32)
    return xs, ys


def wave(size: Size, angle: float, period: float, phase: float) -> np.ndarray:
    """A sinusoid in [0, 1] running along direction ``angle`` (radians) with ``period`` px."""
    xs, ys = coords(size)
    t = (xs * np.cos(angle) + ys * np.sin(angle)) / period
    return 0.5 + 0.5 * np.sin(2 * np.pi * t + phase)
