"""Pure compositing: placing a foreground on a canvas and blending it over a background.

Images are ``[H, W, 3]`` and alphas ``[H, W]``: :func:`composite` takes float32 in [0, 1],
:class:`Placed` blends uint8 (the builder's type), :func:`cover_crop` and :func:`place_foreground`
keep whatever they are given. :func:`cover_window` frames a background, and a photo used as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` resized to ``size`` (height, width): area averaging to shrink (no aliasing),
    bilinear to enlarge (as OpenCV advises; area interpolation is about 2x slower there)."""
    shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(image, (size[1], size[0]), interpolation=interpolation)


def cover_window(
    shape: tuple[int, ...], size: tuple[int, int], rng: np.random.Generator, zoom: float = 1.0
) -> tuple[slice, slice]:
    """A random window of an image of ``shape`` with the aspect of ``size`` (height, width): the
    largest that fits, made ``zoom`` times smaller (1: the least crop that covers ``size``).

    Resizing only this window to ``size`` costs less than resizing the whole covering image and
    then cropping it, and gives the same picture."""
    out_h, out_w = size
    h, w = shape[:2]
    scale = max(out_h / h, out_w / w) * zoom
    win_h, win_w = min(h, max(1, round(out_h / scale))), min(w, max(1, round(out_w / scale)))
    top = int(rng.integers(0, h - win_h + 1))
    left = int(rng.integers(0, w - win_w + 1))
    return slice(top, top + win_h), slice(left, left + win_w)


def cover_crop(image: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random crop of ``image`` scaled to cover ``size`` (height, width), keeping its aspect."""
    return resize_image(image[cover_window(image.shape, size, rng)], size)


@dataclass(frozen=True)
class Placed:
    """A foreground placed on a canvas of ``size`` (height, width): ``fg`` [h, w, 3] and ``alpha``
    [h, w] are the part of the scaled foreground inside the canvas, with their top-left corner at
    ``(top, left)``; everywhere else the alpha is 0. Keeping only that box saves compositing work."""

    fg: np.ndarray
    alpha: np.ndarray
    top: int
    left: int
    size: tuple[int, int]

    @property
    def box(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.alpha.shape[0]), slice(
            self.left, self.left + self.alpha.shape[1]
        )

    def canvas_alpha(self) -> np.ndarray:
        """The alpha on the whole canvas ``[H, W]``."""
        canvas = np.zeros(self.size, self.alpha.dtype)
        canvas[self.box] = self.alpha
        return canvas

    def canvas_fg(self, background: np.ndarray | None = None) -> np.ndarray:
        """The foreground on the whole canvas ``[H, W, 3]``; where it does not reach, 0 or a copy
        of ``background`` (the builder's foreground layer, so that F - B is 0 outside the box)."""
        canvas = np.zeros((*self.size, 3), self.fg.dtype) if background is None else background.copy()
        canvas[self.box] = self.fg
        return canvas

    def over(self, bg: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        """uint8 ``alpha * fg + (1 - alpha) * bg`` for a uint8 ``bg`` [H, W, 3] and uint8 layers,
        blended and rounded in one pass (``cv2.blendLinear``), inside the box only; ``inplace``
        writes into ``bg`` rather than a copy."""
        image = bg if inplace else bg.copy()
        if self.alpha.size:
            # blendLinear divides by the sum of the weights: alpha and 255 - alpha need no scaling.
            weight, rest = self.alpha.astype(np.float32), (255 - self.alpha).astype(np.float32)
            image[self.box] = cv2.blendLinear(self.fg, image[self.box], weight, rest)
        return image


def place_foreground(
    fg: np.ndarray,
    alpha: np.ndarray,
    size: tuple[int, int],
    rng: np.random.Generator,
    *,
    scale_range: tuple[float, float] = (0.6, 1.0),
    max_offset: float = 0.15,
    max_drop: float = 0.0,
    flip: bool = True,
) -> Placed:
    """Scale, flip and position a portrait foreground on a canvas of ``size`` (height, width).

    ``fg`` [h, w, 3] and ``alpha`` [h, w] keep their dtype and value range (uint8 or float).

    The foreground is first cut to the bounding box of its alpha (the person, not the photo). Its
    height becomes a random fraction ``scale_range`` of the canvas height (its width capped to the
    canvas); it stands on the bottom edge, shifted sideways by up to ``max_offset`` of the canvas
    width, so it may leave the frame on one side, and sunk below the bottom edge by up to
    ``max_drop`` of its own height (cut at the waist or chest, as in half-length portraits).
    """
    out_h, out_w = size
    x, y, w, h = cv2.boundingRect(alpha if alpha.dtype == np.uint8 else (alpha > 0).astype(np.uint8))
    if w == 0 or h == 0:  # nothing to place
        return Placed(fg[:0, :0], alpha[:0, :0], out_h, 0, tuple(size))
    fg, alpha = fg[y : y + h, x : x + w], alpha[y : y + h, x : x + w]
    scale = rng.uniform(*scale_range) * out_h / h
    scale = min(scale, out_w / w * (1.0 + max_offset))
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    fg, alpha = resize_image(fg, (new_h, new_w)), resize_image(alpha, (new_h, new_w))
    if flip and rng.random() < 0.5:
        fg, alpha = cv2.flip(fg, 1), cv2.flip(alpha, 1)

    left = (out_w - new_w) // 2 + int(round(rng.uniform(-max_offset, max_offset) * out_w))
    top = out_h - new_h
    if max_drop > 0:  # (no draw otherwise: the composites of builds without it stay the same)
        top += int(round(rng.uniform(0, max_drop) * new_h))
    # Intersection of the placed foreground with the canvas.
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = max(min(top + new_h, out_h), y0), max(min(left + new_w, out_w), x0)
    crop = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    return Placed(np.ascontiguousarray(fg[crop]), np.ascontiguousarray(alpha[crop]), y0, x0, tuple(size))


def estimate_foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 RGB ``[H, W, 3]`` and alpha ``[H, W]`` in [0, 1] -> foreground colours, float ``[H, W, 3]``
    in [0, 1], solving ``image = alpha * fg + (1 - alpha) * bg`` for smooth fg and bg."""
    from pymatting import estimate_foreground_ml

    if alpha.size == 1:  # one pixel: nothing to smooth over (pymatting divides by zero), its own colour
        return image.astype(np.float64) / 255.0
    fg = estimate_foreground_ml(image.astype(np.float64) / 255.0, alpha.astype(np.float64))
    return np.clip(fg, 0.0, 1.0)
