"""Backgrounds: :func:`generate_background`.

Gradients, horizons, blurred shapes and textures make a photographic-looking image without people.
"""

from __future__ import annotations

import cv2
import numpy as np

from matting.data.synthetic.colours import random_colour
from matting.data.synthetic.draw import SHIFT, affine, apply_affine, ellipse, feather, fixed, polygon_mask
from matting.data.synthetic.noise import coords, fractal_noise, smooth_noise, wave
from matting.data.synthetic.sizes import Size, check_size
from matting.io.codecs import to_uint8


def _gradient(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Linear or radial two-colour gradient with cloudy low-frequency colour variation."""
    xs, ys = coords(size)
    h, w = size
    if rng.random() < 0.3:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        t = np.hypot(xs - cx, ys - cy) / np.hypot(h, w)
    else:
        angle = rng.uniform(0, 2 * np.pi)
        t = (xs * np.cos(angle) + ys * np.sin(angle)) / np.hypot(h, w) + 0.5
    t = np.clip(t, 0, 1)[..., None]
    c0, c1 = random_colour(rng), random_colour(rng)
    clouds = fractal_noise(rng, size, rng.uniform(1.5, 4), 3)[..., None]
    return c0 * (1 - t) + c1 * t + rng.uniform(0, 20) * clouds * random_colour(rng) / 255.0


def _horizon(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Split the frame at a slightly tilted horizon; the lower part gets its own texture."""
    size = image.shape[:2]
    xs, ys = coords(size)
    horizon = size[0] * rng.uniform(0.3, 0.75) + (xs - size[1] / 2) * rng.uniform(-0.15, 0.15)
    ground_mask = np.clip((ys - horizon) / rng.uniform(0.5, 3.0) + 0.5, 0, 1)[..., None]
    ground = _gradient(rng, size)
    ground *= (1 + rng.uniform(0.05, 0.2) * fractal_noise(rng, size, 8, 4))[..., None]
    return image * (1 - ground_mask) + ground * ground_mask


def _blobs(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Blurred random ellipses, rectangles and polygons (out-of-focus objects)."""
    size = image.shape[:2]
    h, w = size
    for _ in range(rng.integers(2, 14)):
        centre = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        radius = min(h, w) * rng.uniform(0.03, 0.45)
        kind = rng.choice(["ellipse", "rect", "polygon"])
        if kind == "ellipse":
            points = ellipse(centre, radius * rng.uniform(0.4, 1.0, size=2))
        elif kind == "rect":
            half = radius * rng.uniform(0.2, 1.0, size=2)
            corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)]) * half
            points = apply_affine(affine(rng.uniform(-0.3, 0.3), shift=centre), corners)
        else:
            angles = np.sort(rng.uniform(0, 2 * np.pi, size=rng.integers(3, 8)))
            radii = radius * rng.uniform(0.4, 1.0, size=angles.size)
            points = centre + np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii[:, None]
        mask = feather(polygon_mask(size, [points]), rng.uniform(0, 8))
        weight = (mask * rng.uniform(0.4, 1.0))[..., None]
        image = image * (1 - weight) + random_colour(rng) * weight
    return image


def _line_mask(rng: np.random.Generator, size: Size, regular: bool) -> np.ndarray:
    """Coverage of a regular grid (tiles, fences) or of random straight lines (cables, twigs)."""
    h, w = size
    canvas = np.zeros(size, np.uint8)
    if regular:
        step = rng.uniform(6, 40)
        segments = [((x, 0), (x, h)) for x in np.arange(rng.uniform(0, step), w, step)]
        segments += [((0, y), (w, y)) for y in np.arange(rng.uniform(0, step), h, step)]
        thickness = int(rng.integers(1, 3))
        cv2.polylines(canvas, [fixed(s) for s in segments], False, 255, thickness, cv2.LINE_AA, SHIFT)
    else:
        for _ in range(rng.integers(8, 60)):
            segment = fixed(rng.uniform((0, 0), (w, h), size=(2, 2)))
            value, thickness = int(rng.integers(100, 256)), int(rng.integers(1, 4))
            cv2.polylines(canvas, [segment], False, value, thickness, cv2.LINE_AA, SHIFT)
    return canvas.astype(np.float32) / 255.0


def _texture(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Add one high-frequency texture: noise, stripes, grid, lines, foliage or bokeh."""
    size = image.shape[:2]
    h, w = size
    kind = rng.choice(["noise", "stripes", "grid", "lines", "foliage", "bokeh"])
    colour = random_colour(rng)
    if kind == "bokeh":  # out-of-focus highlights, added like light
        circles = [
            ellipse(rng.uniform((0, 0), (w, h)), [min(h, w) * rng.uniform(0.02, 0.08)] * 2, n=32)
            for _ in range(rng.integers(8, 40))
        ]
        glow = feather(polygon_mask(size, circles), rng.uniform(0.5, 3.0))
        return image + (glow * rng.uniform(0.2, 0.6))[..., None] * random_colour(rng, val=(0.7, 1))
    if kind == "noise":
        channels = 3 if rng.random() < 0.5 else 1
        return image + rng.normal(0, rng.uniform(4, 14), (h, w, channels)).astype(np.float32)
    if kind == "stripes":
        stripes = wave(size, rng.uniform(0, np.pi), rng.uniform(3, 30), rng.uniform(0, 6.3))
        weight = (stripes * rng.uniform(0.15, 0.6))[..., None]
        return image * (1 - weight) + colour * weight
    if kind == "foliage":
        leaves = fractal_noise(rng, size, rng.uniform(6, 20), 3) > rng.uniform(-0.3, 0.8)
        shade = 1 + 0.3 * smooth_noise(rng, size, (h / 4, w / 4))
        weight = leaves[..., None] * rng.uniform(0.5, 1.0)
        return image * (1 - weight) + (colour * shade[..., None]) * weight
    lines = _line_mask(rng, size, regular=kind == "grid")
    weight = (lines * rng.uniform(0.3, 0.9))[..., None]
    return image * (1 - weight) + colour * weight


def _jpeg_roundtrip(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Re-encode at low JPEG quality for blocking / ringing detail."""
    quality = int(rng.integers(20, 70))
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)  # channel order is irrelevant for a roundtrip


def generate_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Draw one photographic-looking background without people.

    A gradient base, optionally split at a horizon, overlaid with blurred shapes and up to two
    high-frequency textures, optionally defocused, vignetted, noised and JPEG-degraded.

    Args:
        rng: random generator; the output is a pure function of its state.
        size: ``(height, width)``, each at least 32.

    Returns:
        uint8 RGB ``HxWx3`` image.
    """
    size = check_size(size, "size")
    image = _gradient(rng, size)
    if rng.random() < 0.45:
        image = _horizon(rng, image)
    image = _blobs(rng, image)
    for _ in range(rng.integers(0, 3)):
        image = _texture(rng, image)
    if rng.random() < 0.35:
        image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), rng.uniform(0.8, 4.0))
    xs, ys = coords(size)
    radius2 = ((xs / size[1] - 0.5) ** 2 + (ys / size[0] - 0.5) ** 2) * 2
    image = image * (1 - rng.uniform(0, 0.35) * radius2)[..., None]
    image = image + rng.normal(0, rng.uniform(0.5, 4.0), image.shape).astype(np.float32)
    result = to_uint8(image, scale=1.0)
    if rng.random() < 0.35:
        result = _jpeg_roundtrip(rng, result)
    return result
