"""Person colours: random colours, skin and hair palettes, and colour fields.

The fields (HxWx3 float32) colour skin, hair, clothing and the face with its features.
"""

from __future__ import annotations

import colorsys

import numpy as np

from matting.data.synthetic.body import Pose
from matting.data.synthetic.draw import apply_affine, ellipse, polygon_mask, polyline_mask
from matting.data.synthetic.noise import fractal_noise, smooth_noise, wave
from matting.data.synthetic.sizes import Size


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    """RGB colour (float, 0..255) from hue / saturation / value in [0, 1]."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32) * 255.0


def random_colour(
    rng: np.random.Generator,
    sat: tuple[float, float] = (0.0, 0.8),
    val: tuple[float, float] = (0.1, 0.95),
) -> np.ndarray:
    """A random RGB colour (float, 0..255) with saturation and value drawn from the ranges."""
    return _hsv(rng.random(), rng.uniform(*sat), rng.uniform(*val))


def fill(size: Size, colour: np.ndarray) -> np.ndarray:
    """A constant HxWx3 float32 colour field."""
    return np.broadcast_to(np.asarray(colour, np.float32), (*size, 3)).copy()


SKIN_TONES = np.array(
    [
        (255, 224, 196),
        (241, 194, 167),
        (224, 172, 138),
        (198, 134, 100),
        (161, 102, 72),
        (120, 75, 50),
        (92, 58, 40),
    ],
    np.float32,
)
HAIR_COLOURS = np.array(
    [
        (22, 18, 16),
        (45, 32, 24),
        (80, 55, 35),
        (115, 75, 45),
        (140, 70, 35),
        (200, 165, 105),
        (225, 200, 150),
        (150, 148, 142),
    ],
    np.float32,
)


def jitter(rng: np.random.Generator, colour: np.ndarray, amount: float = 0.08) -> np.ndarray:
    """Scale each channel of a palette colour by a random factor near 1."""
    return np.clip(colour * rng.uniform(1 - amount, 1 + amount, size=3), 0, 255)


def hair_field(rng: np.random.Generator, size: Size, colour: np.ndarray) -> np.ndarray:
    """Hair colour with vertical streaks and highlights."""
    streaks = smooth_noise(rng, size, (3, size[1] / 4))
    highlights = 6.0 * np.clip(streaks - 1.0, 0, 2)
    return fill(size, colour) * (1.0 + 0.08 * streaks)[..., None] + highlights[..., None]


def skin_field(rng: np.random.Generator, size: Size, colour: np.ndarray) -> np.ndarray:
    """Skin colour with faint blotches."""
    blotches = smooth_noise(rng, size, (size[0] / 24, size[1] / 24))
    return fill(size, colour) * (1.0 + 0.04 * blotches)[..., None]


def clothing_field(rng: np.random.Generator, size: Size, scale: float) -> np.ndarray:
    """Cloth with a pattern (plain, stripes, checks or knit) and soft fold shading."""
    base = random_colour(rng, sat=(0.05, 0.9), val=(0.12, 0.95))
    other = random_colour(rng, sat=(0.0, 0.9), val=(0.1, 1.0))
    field = fill(size, base)
    pattern = rng.choice(["plain", "stripes", "checks", "knit"])
    period = scale * rng.uniform(0.15, 0.6)
    angle = rng.choice([0.0, np.pi / 2, np.pi / 4, -np.pi / 4]) + rng.uniform(-0.1, 0.1)
    if pattern in ("stripes", "checks"):
        stripes = np.clip((wave(size, angle, period, 0.0) - 0.5) * 4 + 0.5, 0, 1)
        if pattern == "checks":
            cross = np.clip((wave(size, angle + np.pi / 2, period, 0.0) - 0.5) * 4 + 0.5, 0, 1)
            stripes = 0.5 * (stripes + cross)
        field += (other - base) * stripes[..., None]
    elif pattern == "knit":
        field *= (1.0 + 0.12 * smooth_noise(rng, size, (size[0] / 2, size[1] / 2)))[..., None]
    folds = fractal_noise(rng, size, rng.uniform(2, 5), 3)
    return field * (1.0 + 0.1 * folds)[..., None]


def face_features(
    rng: np.random.Generator, size: Size, pose: Pose, skin: np.ndarray, hair: np.ndarray
) -> np.ndarray:
    """Head colour field: skin with eyes, brows, nose shade and mouth."""
    rx, ry = pose.head_axes
    yaw = rx * rng.uniform(-0.15, 0.15)
    field = skin_field(rng, size, skin)

    def paint(mask: np.ndarray, colour: np.ndarray) -> None:
        field[:] = field * (1 - mask[..., None]) + np.asarray(colour, np.float32) * mask[..., None]

    to_image = pose.head_to_image
    eyes = [
        apply_affine(to_image, ellipse((yaw + s * 0.36 * rx, 0.02 * ry), (0.14 * rx, 0.07 * ry), n=24))
        for s in (-1, 1)
    ]
    brows = [
        (
            apply_affine(to_image, [(yaw + s * 0.18 * rx, -0.16 * ry), (yaw + s * 0.55 * rx, -0.2 * ry)]),
            max(1.0, 0.06 * ry),
        )
        for s in (-1, 1)
    ]
    nose = apply_affine(to_image, ellipse((yaw * 1.3, 0.3 * ry), (0.09 * rx, 0.06 * ry), n=16))
    mouth = apply_affine(to_image, ellipse((yaw, 0.55 * ry), (0.24 * rx, 0.06 * ry), n=24))
    paint(polygon_mask(size, [nose]), skin * 0.8)
    paint(polygon_mask(size, eyes), (35, 28, 26))
    paint(polyline_mask(size, brows), hair * 0.9)
    paint(polygon_mask(size, [mouth]), skin * np.array((0.78, 0.48, 0.48)))
    return field
