"""Drawing helpers: anti-aliased coverage masks, curves and affine transforms.

Fixed-point polygons and polylines, feathering, ellipse and Chaikin curve points, and 2-D affine
transforms of point sets.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from matting.data.synthetic.sizes import Size

SHIFT = 4  # sub-pixel bits for cv2 drawing calls
_SCALE = 1 << SHIFT


def fixed(points: np.ndarray) -> np.ndarray:
    """Float (N, 2) points -> int32 fixed-point points for cv2 calls with ``shift=SHIFT``."""
    return np.round(np.asarray(points, np.float64).reshape(-1, 2) * _SCALE).astype(np.int32)


def polygon_mask(size: Size, polygons: Sequence[np.ndarray]) -> np.ndarray:
    """Anti-aliased coverage mask (float32 in [0, 1]) of filled polygons."""
    canvas = np.zeros(size, np.uint8)
    cv2.fillPoly(canvas, [fixed(p) for p in polygons], 255, cv2.LINE_AA, SHIFT)
    return canvas.astype(np.float32) / 255.0


def polyline_mask(size: Size, lines: Sequence[tuple[np.ndarray, float]]) -> np.ndarray:
    """Anti-aliased coverage mask of thick open polylines given as ``(points, thickness)``."""
    canvas = np.zeros(size, np.uint8)
    for points, thickness in lines:
        cv2.polylines(canvas, [fixed(points)], False, 255, max(1, round(thickness)), cv2.LINE_AA, SHIFT)
    return canvas.astype(np.float32) / 255.0


def feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-blur a coverage mask (no-op for tiny sigma)."""
    if sigma < 0.3:
        return mask
    return cv2.GaussianBlur(mask, (0, 0), sigma)


def ellipse(
    centre: Sequence[float], axes: Sequence[float], t0: float = 0.0, t1: float = 360.0, n: int = 72
) -> np.ndarray:
    """Points on an axis-aligned ellipse for angles ``t0..t1`` in degrees (y axis points down)."""
    t = np.deg2rad(np.linspace(t0, t1, n, endpoint=t1 - t0 < 360))
    return np.stack([centre[0] + axes[0] * np.cos(t), centre[1] + axes[1] * np.sin(t)], axis=1)


def chaikin(points: np.ndarray, iterations: int = 3, closed: bool = False) -> np.ndarray:
    """Smooth a polyline by Chaikin corner cutting (an open line keeps its end points)."""
    pts = np.asarray(points, np.float64)
    for _ in range(iterations):
        cur, nxt = (pts, np.roll(pts, -1, axis=0)) if closed else (pts[:-1], pts[1:])
        cut = np.stack([0.75 * cur + 0.25 * nxt, 0.25 * cur + 0.75 * nxt], axis=1).reshape(-1, 2)
        pts = cut if closed else np.vstack([pts[:1], cut, pts[-1:]])
    return pts


def affine(
    angle: float = 0.0,
    pivot: Sequence[float] = (0.0, 0.0),
    shift: Sequence[float] = (0.0, 0.0),
) -> np.ndarray:
    """3x3 matrix: rotate by ``angle`` (radians) about ``pivot``, then translate by ``shift``."""
    c, s = np.cos(angle), np.sin(angle)
    px, py = pivot
    return np.array(
        [
            [c, -s, px - c * px + s * py + shift[0]],
            [s, c, py - s * px - c * py + shift[1]],
            [0.0, 0.0, 1.0],
        ]
    )


def apply_affine(matrix: np.ndarray, points: np.ndarray | Sequence) -> np.ndarray:
    """Transform (N, 2) points by a 3x3 affine matrix."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    return pts @ matrix[:2, :2].T + matrix[:2, 2]
