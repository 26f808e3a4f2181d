"""Semi-transparent cloth: a sheer veil over the hair and a sheer scarf around the neck."""

from __future__ import annotations

import numpy as np

from matting.data.synthetic.body import Pose
from matting.data.synthetic.draw import apply_affine, chaikin, ellipse, feather, polygon_mask, polyline_mask
from matting.data.synthetic.hair import Hair
from matting.data.synthetic.noise import smooth_noise, wave
from matting.data.synthetic.sizes import Size


def _sheer_texture(rng: np.random.Generator, size: Size, scale: float) -> np.ndarray:
    """Opacity modulation of sheer cloth: soft folds plus a little weave noise (about 0.8-1.2)."""
    folds = wave(size, rng.uniform(0, np.pi), scale * rng.uniform(0.3, 0.8), rng.uniform(0, 6.3))
    weave = smooth_noise(rng, size, (size[0] / 3, size[1] / 3))
    return 0.85 + 0.3 * folds + 0.05 * weave


def veil_mask(rng: np.random.Generator, size: Size, pose: Pose, hair: Hair) -> np.ndarray:
    """A sheer veil over the hair, falling behind the face over the shoulders."""
    rx, ry = pose.head_axes
    top = ellipse(hair.centre, (hair.axes[0] * 1.1, hair.axes[1] * 1.08), 180, 360, n=32)
    spread, length = rx * rng.uniform(1.7, 2.6), ry * rng.uniform(2.5, 4.5)
    hem_x = np.linspace(spread, -spread, 9)
    hem_y = length - ry * 0.3 * np.sin(np.linspace(0, np.pi, 9)) * rng.uniform(0.0, 1.0)
    polygon = np.vstack([top, np.stack([hem_x, hem_y], axis=1)])
    mask = polygon_mask(size, [apply_affine(pose.head_to_image, chaikin(polygon, 2, closed=True))])
    opacity = rng.uniform(0.3, 0.6) * _sheer_texture(rng, size, ry)
    return feather(mask, rng.uniform(0.8, 2.0)) * opacity


def scarf_mask(rng: np.random.Generator, size: Size, pose: Pose) -> np.ndarray:
    """A sheer scarf around the neck with one end blowing out past the shoulder."""
    ry, sw, nw = pose.head_axes[1], pose.shoulder_half_width, pose.neck_half_width
    cx, ys = pose.centre_x, pose.shoulder_y
    sign = rng.choice([-1.0, 1.0])
    loop = np.array([(cx - 2.0 * nw, ys - 0.15 * ry), (cx, ys + 0.45 * ry), (cx + 2.0 * nw, ys - 0.15 * ry)])
    tail_end = np.array([cx + sign * sw * rng.uniform(1.1, 1.5), ys + ry * rng.uniform(0.6, 2.4)])
    tail = np.array([(cx + sign * 1.6 * nw, ys), (cx + sign * sw * 0.8, ys - 0.4 * ry), tail_end])
    width = ry * rng.uniform(0.45, 0.7)
    lines = [(chaikin(loop, 3), width), (chaikin(tail, 3), width * 0.8)]
    along = (tail_end - tail[1]) / np.linalg.norm(tail_end - tail[1])
    across = np.array([-along[1], along[0]])
    for offset in np.linspace(-0.35, 0.35, 6) * width:  # fringe threads at the end of the tail
        thread_start = tail_end + across * offset
        thread_end = thread_start + along * width * rng.uniform(0.6, 1.4)
        lines.append((np.array([thread_start, thread_end]), 1))
    lines = [(apply_affine(pose.body_to_image, pts), thick) for pts, thick in lines]
    opacity = rng.uniform(0.35, 0.7) * _sheer_texture(rng, size, ry)
    return feather(polyline_mask(size, lines), rng.uniform(0.5, 1.2)) * opacity
