"""Pure compositing: placing a foreground on a canvas and blending it over a background.

Arrays here are float32 in [0, 1]: images ``[H, W, 3]``, alpha ``[H, W]``.
"""

from __future__ import annotations

import cv2
import numpy as np


def composite(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``alpha * fg + (1 - alpha) * bg``: fg and bg ``[H, W, 3]``, alpha ``[H, W]`` or ``[H, W, 1]``."""
    if alpha.ndim == 2:
        alpha = alpha[..., None]
    out = fg - bg  # bg + alpha * (fg - bg): the same blend in three passes instead of four
    out *= alpha
    out += bg
    return out


def cover_crop(image: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Resize ``image`` to cover ``size`` (height, width) keeping its aspect, then crop at random."""
    out_h, out_w = size
    h, w = image.shape[:2]
    scale = max(out_h / h, out_w / w)
    new_h, new_w = max(out_h, round(h * scale)), max(out_w, round(w * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    top = int(rng.integers(0, new_h - out_h + 1))
    left = int(rng.integers(0, new_w - out_w + 1))
    return resized[top : top + out_h, left : left + out_w]


def place_foreground(
    fg: np.ndarray,
    alpha: np.ndarray,
    size: tuple[int, int],
    rng: np.random.Generator,
    *,
    scale_range: tuple[float, float] = (0.6, 1.0),
    max_offset: float = 0.15,
    flip: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Scale, flip and position a portrait foreground on a canvas of ``size`` (height, width).

    ``fg`` [h, w, 3] and ``alpha`` [h, w] keep their dtype and value range (uint8 or float).

    The foreground's height becomes a random fraction ``scale_range`` of the canvas height (its width
    capped to the canvas); it stands on the bottom edge, shifted sideways by up to ``max_offset`` of
    the canvas width, so it may leave the frame on one side. Returns ``(fg, alpha)`` on the canvas;
    alpha is 0 where the foreground does not reach.
    """
    out_h, out_w = size
    h, w = alpha.shape
    scale = rng.uniform(*scale_range) * out_h / h
    scale = min(scale, out_w / w * (1.0 + max_offset))
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    fg = cv2.resize(fg, (new_w, new_h), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, (new_w, new_h), interpolation=cv2.INTER_AREA)
    if flip and rng.random() < 0.5:
        fg, alpha = fg[:, ::-1], alpha[:, ::-1]

    left = (out_w - new_w) // 2 + int(round(rng.uniform(-max_offset, max_offset) * out_w))
    top = out_h - new_h
    canvas_fg = np.zeros((out_h, out_w, 3), fg.dtype)
    canvas_alpha = np.zeros((out_h, out_w), alpha.dtype)
    # Intersection of the placed foreground with the canvas.
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + new_h, out_h), min(left + new_w, out_w)
    if y1 > y0 and x1 > x0:
        canvas_fg[y0:y1, x0:x1] = fg[y0 - top : y1 - top, x0 - left : x1 - left]
        canvas_alpha[y0:y1, x0:x1] = alpha[y0 - top : y1 - top, x0 - left : x1 - left]
    return canvas_fg, canvas_alpha
