"""Procedural portrait-matting data that needs no download.

The generator draws person-like foregrounds (head, neck, shoulders, torso, optional arms) with a
soft alpha matte: feathered body edges, thin 1 px hair strands leaving the head outline and
semi-transparent parts (a sheer veil, a sheer scarf or a fuzzy band of loose hair). Backgrounds
are photographic-looking mixtures of gradients, blurred shapes, horizons and textures.

:func:`write_synthetic_dataset` writes them to disk in the layout of an Adobe Composition-1k
style alpha-matte dataset, so the dataset builder reads them through the same code path as real
data::

    root/fg/00000.png      foreground RGB, defined everywhere (also where alpha is 0)
    root/alpha/00000.png   8-bit single-channel alpha matte
    root/bg/00000.jpg      background photograph stand-in (JPEG quality 95)
    root/synthetic.json    the generation arguments, written last

Everything is deterministic: each item gets its own generator from :func:`item_rng`, so an item
only depends on ``(seed, kind, index)`` and not on the order in which items are made.
"""

from __future__ import annotations

import colorsys
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy import ndimage

from matting.io.codecs import encode_jpeg, encode_png, to_uint8
from matting.io.files import remove_stale_temporaries, write_atomic

__all__ = [
    "FORMAT_VERSION",
    "generate_background",
    "generate_person",
    "item_rng",
    "write_synthetic_dataset",
]

#: Bumped whenever the generator's output changes, so stale datasets on disk are rewritten.
FORMAT_VERSION = 1

_MIN_SIZE = 32
_ITEM_KINDS = {"fg": 0, "bg": 1}
_MANIFEST_NAME = "synthetic.json"

_SHIFT = 4  # sub-pixel bits for cv2 drawing calls
_SCALE = 1 << _SHIFT

Size = tuple[int, int]
Layer = tuple[np.ndarray, np.ndarray]  # (coverage HxW float32 in [0, 1], colour HxWx3 float32)


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


# ---------------------------------------------------------------------------------------------
# Drawing and noise helpers
# ---------------------------------------------------------------------------------------------


def _fixed(points: np.ndarray) -> np.ndarray:
    """Float (N, 2) points -> int32 fixed-point points for cv2 calls with ``shift=_SHIFT``."""
    return np.round(np.asarray(points, np.float64).reshape(-1, 2) * _SCALE).astype(np.int32)


def _polygon_mask(size: Size, polygons: Sequence[np.ndarray]) -> np.ndarray:
    """Anti-aliased coverage mask (float32 in [0, 1]) of filled polygons."""
    canvas = np.zeros(size, np.uint8)
    cv2.fillPoly(canvas, [_fixed(p) for p in polygons], 255, cv2.LINE_AA, _SHIFT)
    return canvas.astype(np.float32) / 255.0


def _polyline_mask(size: Size, lines: Sequence[tuple[np.ndarray, float]]) -> np.ndarray:
    """Anti-aliased coverage mask of thick open polylines given as ``(points, thickness)``."""
    canvas = np.zeros(size, np.uint8)
    for points, thickness in lines:
        cv2.polylines(canvas, [_fixed(points)], False, 255, max(1, round(thickness)), cv2.LINE_AA, _SHIFT)
    return canvas.astype(np.float32) / 255.0


def _feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-blur a coverage mask (no-op for tiny sigma)."""
    if sigma < 0.3:
        return mask
    return cv2.GaussianBlur(mask, (0, 0), sigma)


def _ellipse(
    centre: Sequence[float], axes: Sequence[float], t0: float = 0.0, t1: float = 360.0, n: int = 72
) -> np.ndarray:
    """Points on an axis-aligned ellipse for angles ``t0..t1`` in degrees (y axis points down)."""
    t = np.deg2rad(np.linspace(t0, t1, n, endpoint=t1 - t0 < 360))
    return np.stack([centre[0] + axes[0] * np.cos(t), centre[1] + axes[1] * np.sin(t)], axis=1)


def _chaikin(points: np.ndarray, iterations: int = 3, closed: bool = False) -> np.ndarray:
    """Smooth a polyline by Chaikin corner cutting (an open line keeps its end points)."""
    pts = np.asarray(points, np.float64)
    for _ in range(iterations):
        cur, nxt = (pts, np.roll(pts, -1, axis=0)) if closed else (pts[:-1], pts[1:])
        cut = np.stack([0.75 * cur + 0.25 * nxt, 0.25 * cur + 0.75 * nxt], axis=1).reshape(-1, 2)
        pts = cut if closed else np.vstack([pts[:1], cut, pts[-1:]])
    return pts


def _smooth_noise(rng: np.random.Generator, size: Size, cells: Sequence[float]) -> np.ndarray:
    """Band-limited noise (roughly unit variance): a coarse random grid upsampled bicubically."""
    grid = rng.standard_normal((max(2, round(cells[0])), max(2, round(cells[1]))))
    return cv2.resize(grid.astype(np.float32), size[::-1], interpolation=cv2.INTER_CUBIC)


def _fractal_noise(rng: np.random.Generator, size: Size, cells: float, octaves: int) -> np.ndarray:
    """Sum of octaves of smooth noise, normalised to unit standard deviation."""
    aspect = size[1] / size[0]
    total = np.zeros(size, np.float32)
    for octave in range(octaves):
        c = cells * 2**octave
        total += _smooth_noise(rng, size, (c, c * aspect)) * 0.55**octave
    return total / max(float(total.std()), 1e-6)


def _coords(size: Size) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre x and y coordinate grids (float32)."""
    ys, xs = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float32)
    return xs, ys


def _wave(size: Size, angle: float, period: float, phase: float) -> np.ndarray:
    """A sinusoid in [0, 1] running along direction ``angle`` (radians) with ``period`` px."""
    xs, ys = _coords(size)
    t = (xs * np.cos(angle) + ys * np.sin(angle)) / period
    return 0.5 + 0.5 * np.sin(2 * np.pi * t + phase)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    """RGB colour (float, 0..255) from hue / saturation / value in [0, 1]."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32) * 255.0


def _random_colour(
    rng: np.random.Generator,
    sat: tuple[float, float] = (0.0, 0.8),
    val: tuple[float, float] = (0.1, 0.95),
) -> np.ndarray:
    """A random RGB colour (float, 0..255) with saturation and value drawn from the ranges."""
    return _hsv(rng.random(), rng.uniform(*sat), rng.uniform(*val))


def _fill(size: Size, colour: np.ndarray) -> np.ndarray:
    """A constant HxWx3 float32 colour field."""
    return np.broadcast_to(np.asarray(colour, np.float32), (*size, 3)).copy()


# ---------------------------------------------------------------------------------------------
# Person geometry
# ---------------------------------------------------------------------------------------------


def _affine(
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


def _apply(matrix: np.ndarray, points: np.ndarray | Sequence) -> np.ndarray:
    """Transform (N, 2) points by a 3x3 affine matrix."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    return pts @ matrix[:2, :2].T + matrix[:2, 2]


@dataclass(frozen=True)
class _Pose:
    """Sampled body layout. Body coordinates are image pixels before the whole-body lean."""

    head_axes: tuple[float, float]  # (rx, ry) of the face ellipse
    head_to_image: np.ndarray  # 3x3: head-local coordinates (origin at face centre) -> image
    body_to_image: np.ndarray  # 3x3: body coordinates -> image (the lean)
    centre_x: float  # body centre line
    shoulder_y: float  # neck base height
    shoulder_half_width: float
    shoulder_drops: tuple[float, float]  # left / right shoulder height offsets (asymmetry)
    neck_half_width: float
    arms: tuple[str, str]  # left / right: "none", "down" or "akimbo"
    bottom_y: float  # torso outline ends here, below the frame


def _sample_pose(rng: np.random.Generator, size: Size) -> _Pose:
    """Random head size, position, tilt, lean, shoulder asymmetry and arm styles."""
    h, w = size
    ry = h * rng.uniform(0.085, 0.15)
    rx = ry * rng.uniform(0.74, 0.86)
    head_y = rng.uniform(1.25 * ry, max(1.25 * ry, 0.86 * h - 1.7 * ry))
    centre_x = w * (0.5 + rng.uniform(-0.2, 0.2))
    head_x = centre_x + rx * rng.uniform(-0.2, 0.2)
    tilt, lean = rng.uniform(-0.25, 0.25), rng.uniform(-0.12, 0.12)
    body_to_image = _affine(lean, pivot=(centre_x, h + ry))
    neck_top = (head_x, head_y + 0.75 * ry)
    head_to_body = _affine(tilt, pivot=neck_top) @ _affine(shift=(head_x, head_y))
    arm_styles = ("none", "none", "down", "akimbo")
    return _Pose(
        head_axes=(rx, ry),
        head_to_image=body_to_image @ head_to_body,
        body_to_image=body_to_image,
        centre_x=centre_x,
        shoulder_y=head_y + ry * rng.uniform(1.35, 1.75),
        shoulder_half_width=rx * rng.uniform(2.1, 3.1),
        shoulder_drops=(ry * rng.uniform(-0.2, 0.2), ry * rng.uniform(-0.2, 0.2)),
        neck_half_width=rx * rng.uniform(0.42, 0.55),
        arms=(str(rng.choice(arm_styles)), str(rng.choice(arm_styles))),
        bottom_y=h + 3.0 * ry,
    )


def _torso_polygon(rng: np.random.Generator, pose: _Pose) -> np.ndarray:
    """Shoulders and torso, from the bottom left over the shoulders to the bottom right."""
    ry = pose.head_axes[1]
    sw, ys = pose.shoulder_half_width, pose.shoulder_y

    def side(sign: float, drop: float) -> list[tuple[float, float]]:
        spread = rng.uniform(0.85, 1.08)
        offsets = [
            (sw * spread, pose.bottom_y),
            (sw * 1.02, ys + drop + 0.9 * ry),
            (sw * 0.97, ys + drop + 0.35 * ry),
            (sw * 0.8, ys + drop + 0.12 * ry),
            (sw * 0.45, ys + 0.5 * drop - 0.02 * ry),
            (pose.neck_half_width * 1.15, ys - 0.3 * ry),
        ]
        return [(pose.centre_x + sign * dx, y) for dx, y in offsets]

    outline = side(-1, pose.shoulder_drops[0]) + side(1, pose.shoulder_drops[1])[::-1]
    return _apply(pose.body_to_image, _chaikin(np.array(outline)))


def _arm_paths(rng: np.random.Generator, pose: _Pose) -> list[tuple[np.ndarray, float]]:
    """Thick polylines (shoulder -> elbow -> hand) for the arms that are drawn separately."""
    ry, sw = pose.head_axes[1], pose.shoulder_half_width
    paths = []
    for sign, drop, style in zip((-1, 1), pose.shoulder_drops, pose.arms, strict=True):
        if style == "none":
            continue
        joint = (pose.centre_x + sign * sw * 0.86, pose.shoulder_y + drop + 0.55 * ry)
        if style == "down":
            elbow = (
                joint[0] + sign * sw * rng.uniform(0.08, 0.22),
                joint[1] + ry * rng.uniform(2, 2.6),
            )
            hand = (elbow[0] + sign * sw * rng.uniform(-0.05, 0.1), elbow[1] + 2.4 * ry)
        else:  # akimbo: hand on the hip, leaving a hole between arm and torso
            elbow = (
                joint[0] + sign * sw * rng.uniform(0.45, 0.7),
                joint[1] + ry * rng.uniform(1.6, 2.2),
            )
            hand = (
                pose.centre_x + sign * sw * rng.uniform(0.6, 0.8),
                elbow[1] + ry * rng.uniform(1.3, 1.9),
            )
        points = _apply(pose.body_to_image, _chaikin(np.array([joint, elbow, hand]), 2))
        paths.append((points, sw * rng.uniform(0.3, 0.4)))
    return paths


def _neck_polygon(pose: _Pose) -> np.ndarray:
    """Neck from under the (tilted) head to the neck base."""
    ry, nw = pose.head_axes[1], pose.neck_half_width
    top = _apply(pose.head_to_image, [(-nw * 0.95, 0.3 * ry), (nw * 0.95, 0.3 * ry)])
    base = _apply(
        pose.body_to_image,
        [
            (pose.centre_x + nw * 1.25, pose.shoulder_y + 0.1 * ry),
            (pose.centre_x - nw * 1.25, pose.shoulder_y + 0.1 * ry),
        ],
    )
    return np.vstack([top, base])


def _head_polygons(pose: _Pose) -> list[np.ndarray]:
    """Face ellipse plus ears."""
    rx, ry = pose.head_axes
    face = _ellipse((0, 0), (rx, ry))
    ears = [_ellipse((s * rx * 0.97, 0.08 * ry), (0.16 * rx, 0.24 * ry), n=24) for s in (-1, 1)]
    return [_apply(pose.head_to_image, p) for p in (face, *ears)]


@dataclass(frozen=True)
class _Hair:
    """Hair shapes in head-local coordinates."""

    centre: tuple[float, float]  # centre of the hair volume ellipse
    axes: tuple[float, float]  # axes of the hair volume ellipse
    long_sides: list[np.ndarray]  # polygons of long hair falling beside the neck (may be empty)
    long_extent: tuple[float, float]  # (half width, length) of the long hair, zeros if short
    parting: float  # x of the parting; hair flows away from it
    fringe: np.ndarray  # polygon of the hair covering the top of the face


def _sample_hair(rng: np.random.Generator, pose: _Pose) -> _Hair:
    """Random hair volume, optional long hair and a fringe with a parting."""
    rx, ry = pose.head_axes
    vx, vy = rng.uniform(1.06, 1.3), rng.uniform(1.04, 1.22)
    centre = (0.0, -ry * (vy - 1.0) * 0.9)
    axes = (rx * vx, ry * vy)

    long_sides, long_extent = [], (0.0, 0.0)
    if rng.random() < 0.45:
        length, spread = ry * rng.uniform(1.8, 3.6), rx * rng.uniform(1.0, 1.45)
        for sign in (-1, 1):
            tips = np.linspace(spread, rx * 0.6, 6)
            ragged = length - ry * rng.uniform(0.0, 0.35, size=6)
            outline = [(sign * axes[0] * 0.98, -0.2 * ry)]
            outline += [(sign * x, y) for x, y in zip(tips, ragged, strict=True)]
            outline += [(sign * rx * 0.6, 0.6 * ry), (sign * rx * 0.7, -0.2 * ry)]
            long_sides.append(_chaikin(np.array(outline), 2, closed=True))
        long_extent = (spread, length)

    # Fringe: the top of the face ellipse down to a wavy hair line with a parting.
    arc = _ellipse((0, 0), (rx * 1.1, ry * 1.1), 165, 375, n=48)  # covers the feathered edge
    xs = np.linspace(rx * 0.92, -rx * 0.92, 24)
    line_y = ry * rng.uniform(-0.55, -0.2)
    parting = rx * rng.uniform(-0.5, 0.5)
    ys = (
        line_y
        + (np.abs(xs) / rx) ** 2 * (0.2 * ry - line_y)
        + 0.05 * ry * np.sin(xs / rx * rng.uniform(6, 12) + rng.uniform(0, 2 * np.pi))
        - 0.15 * ry * np.exp(-(((xs - parting) / (0.2 * rx)) ** 2))
    )
    fringe = np.vstack([arc, np.stack([xs, ys], axis=1)])
    return _Hair(centre, axes, long_sides, long_extent, parting, fringe)


def _back_hair_polygons(pose: _Pose, hair: _Hair) -> list[np.ndarray]:
    """Hair volume behind the head plus long hair, in image coordinates."""
    polygons = [_ellipse(hair.centre, hair.axes), *hair.long_sides]
    return [_apply(pose.head_to_image, p) for p in polygons]


# ---------------------------------------------------------------------------------------------
# Hair strands and semi-transparent parts
# ---------------------------------------------------------------------------------------------


def _strand_roots(
    rng: np.random.Generator, pose: _Pose, hair: _Hair, count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roots on the hair outline with outward normals and hair-flow directions (image coords).

    The flow runs along the outline, away from the crown at the parting, so that strands comb
    down the sides of the head instead of standing up like spikes.
    """
    angles = np.deg2rad(rng.uniform(160, 380, size=count))
    (a, b), (cx, cy) = hair.axes, hair.centre
    roots = np.stack([cx + a * np.cos(angles), cy + b * np.sin(angles)], axis=1)
    normals = np.stack([np.cos(angles) / a, np.sin(angles) / b], axis=1)
    flows = np.stack([-a * np.sin(angles), b * np.cos(angles)], axis=1)
    away = np.sum(flows * (roots - (hair.parting, cy - b)), axis=1) < 0
    flows[away] *= -1
    if hair.long_sides:  # a third of the strands come off the outer edges of long hair
        side = rng.choice([-1.0, 1.0], size=count)
        along = rng.uniform(0.0, 1.0, size=count)
        on_edge = rng.random(count) < 0.33
        spread, length = hair.long_extent
        edge = np.stack([side * (a + (spread - a) * along), along * length], axis=1)
        roots[on_edge] = edge[on_edge]
        normals[on_edge] = np.stack([side, np.zeros(count)], axis=1)[on_edge]
        flows[on_edge] = (0.0, 1.0)
    linear = pose.head_to_image[:2, :2]
    normals, flows = normals @ linear.T, flows @ linear.T
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    flows /= np.linalg.norm(flows, axis=1, keepdims=True)
    return _apply(pose.head_to_image, roots), normals, flows


def _strands_mask(rng: np.random.Generator, size: Size, pose: _Pose, hair: _Hair) -> np.ndarray:
    """Many thin curved 1 px strands leaving the hair outline, with partial opacity."""
    ry = pose.head_axes[1]
    count = max(12, round(rng.uniform(1.5, 7.0) * ry))
    roots, normals, flows = _strand_roots(rng, pose, hair, count)

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)

    # Leave the outline between straight out (flyaways) and along the flow, then bend with the
    # flow and gravity: a quadratic Bezier start -> ctrl -> end.
    outward = 1.45 - 1.3 * rng.random((count, 1)) ** 2  # radians from the normal
    leave = unit(np.cos(outward) * normals + np.sin(outward) * flows)
    bend = unit(leave + flows * rng.uniform(0, 1.0, (count, 1)) + (0, rng.uniform(0, 0.6)))
    length = ry * (0.1 + 0.6 * rng.random((count, 1)) ** 1.5)
    start = roots - leave * rng.uniform(1.0, 0.1 * ry + 1.0, size=(count, 1))
    ctrl = roots + leave * length * 0.5
    end = ctrl + bend * length * 0.6
    t = np.linspace(0.0, 1.0, 10)[None, :, None]
    curves = (1 - t) ** 2 * start[:, None] + 2 * (1 - t) * t * ctrl[:, None] + t**2 * end[:, None]

    # Draw faint strands first so that strong ones win where strands cross.
    levels = np.minimum((rng.uniform(0.25, 1.0, size=count) * 8).astype(int), 7)
    canvas = np.zeros(size, np.uint8)
    for level in range(8):
        chosen = [_fixed(curve) for curve in curves[levels == level]]
        if chosen:
            value = round(255 * (level + 1) / 8)
            cv2.polylines(canvas, chosen, False, value, 1, cv2.LINE_AA, _SHIFT)
    return canvas.astype(np.float32) / 255.0


def _sheer_texture(rng: np.random.Generator, size: Size, scale: float) -> np.ndarray:
    """Opacity modulation of sheer cloth: soft folds plus a little weave noise (about 0.8-1.2)."""
    folds = _wave(size, rng.uniform(0, np.pi), scale * rng.uniform(0.3, 0.8), rng.uniform(0, 6.3))
    weave = _smooth_noise(rng, size, (size[0] / 3, size[1] / 3))
    return 0.85 + 0.3 * folds + 0.05 * weave


def _veil_mask(rng: np.random.Generator, size: Size, pose: _Pose, hair: _Hair) -> np.ndarray:
    """A sheer veil over the hair, falling behind the face over the shoulders."""
    rx, ry = pose.head_axes
    top = _ellipse(hair.centre, (hair.axes[0] * 1.1, hair.axes[1] * 1.08), 180, 360, n=32)
    spread, length = rx * rng.uniform(1.7, 2.6), ry * rng.uniform(2.5, 4.5)
    hem_x = np.linspace(spread, -spread, 9)
    hem_y = length - ry * 0.3 * np.sin(np.linspace(0, np.pi, 9)) * rng.uniform(0.0, 1.0)
    polygon = np.vstack([top, np.stack([hem_x, hem_y], axis=1)])
    mask = _polygon_mask(size, [_apply(pose.head_to_image, _chaikin(polygon, 2, closed=True))])
    opacity = rng.uniform(0.3, 0.6) * _sheer_texture(rng, size, ry)
    return _feather(mask, rng.uniform(0.8, 2.0)) * opacity


def _scarf_mask(rng: np.random.Generator, size: Size, pose: _Pose) -> np.ndarray:
    """A sheer scarf around the neck with one end blowing out past the shoulder."""
    ry, sw, nw = pose.head_axes[1], pose.shoulder_half_width, pose.neck_half_width
    cx, ys = pose.centre_x, pose.shoulder_y
    sign = rng.choice([-1.0, 1.0])
    loop = np.array([(cx - 2.0 * nw, ys - 0.15 * ry), (cx, ys + 0.45 * ry), (cx + 2.0 * nw, ys - 0.15 * ry)])
    tail_end = np.array([cx + sign * sw * rng.uniform(1.1, 1.5), ys + ry * rng.uniform(0.6, 2.4)])
    tail = np.array([(cx + sign * 1.6 * nw, ys), (cx + sign * sw * 0.8, ys - 0.4 * ry), tail_end])
    width = ry * rng.uniform(0.45, 0.7)
    lines = [(_chaikin(loop, 3), width), (_chaikin(tail, 3), width * 0.8)]
    along = (tail_end - tail[1]) / np.linalg.norm(tail_end - tail[1])
    across = np.array([-along[1], along[0]])
    for offset in np.linspace(-0.35, 0.35, 6) * width:  # fringe threads at the end of the tail
        thread_start = tail_end + across * offset
        thread_end = thread_start + along * width * rng.uniform(0.6, 1.4)
        lines.append((np.array([thread_start, thread_end]), 1))
    lines = [(_apply(pose.body_to_image, pts), thick) for pts, thick in lines]
    opacity = rng.uniform(0.35, 0.7) * _sheer_texture(rng, size, ry)
    return _feather(_polyline_mask(size, lines), rng.uniform(0.5, 1.2)) * opacity


def _halo_mask(rng: np.random.Generator, hair_mask: np.ndarray, ry: float) -> np.ndarray:
    """A fuzzy band of loose hair around the hair outline, fading outwards."""
    outside = (hair_mask < 0.5).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 3)
    width = ry * rng.uniform(0.12, 0.3)
    falloff = np.clip(1.0 - distance / width, 0.0, 1.0) ** 1.5
    size = hair_mask.shape
    fibres = _smooth_noise(rng, size, (size[0] / 2.5, size[1] / 2.5))
    texture = np.clip(0.75 + 0.35 * fibres, 0.0, 1.0)
    return falloff * texture * rng.uniform(0.35, 0.7) * (1.0 - hair_mask)


# ---------------------------------------------------------------------------------------------
# Person colours
# ---------------------------------------------------------------------------------------------

_SKIN_TONES = np.array(
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
_HAIR_COLOURS = np.array(
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


def _jitter(rng: np.random.Generator, colour: np.ndarray, amount: float = 0.08) -> np.ndarray:
    """Scale each channel of a palette colour by a random factor near 1."""
    return np.clip(colour * rng.uniform(1 - amount, 1 + amount, size=3), 0, 255)


def _hair_field(rng: np.random.Generator, size: Size, colour: np.ndarray) -> np.ndarray:
    """Hair colour with vertical streaks and highlights."""
    streaks = _smooth_noise(rng, size, (3, size[1] / 4))
    highlights = 6.0 * np.clip(streaks - 1.0, 0, 2)
    return _fill(size, colour) * (1.0 + 0.08 * streaks)[..., None] + highlights[..., None]


def _skin_field(rng: np.random.Generator, size: Size, colour: np.ndarray) -> np.ndarray:
    """Skin colour with faint blotches."""
    blotches = _smooth_noise(rng, size, (size[0] / 24, size[1] / 24))
    return _fill(size, colour) * (1.0 + 0.04 * blotches)[..., None]


def _clothing_field(rng: np.random.Generator, size: Size, scale: float) -> np.ndarray:
    """Cloth with a pattern (plain, stripes, checks or knit) and soft fold shading."""
    base = _random_colour(rng, sat=(0.05, 0.9), val=(0.12, 0.95))
    other = _random_colour(rng, sat=(0.0, 0.9), val=(0.1, 1.0))
    field = _fill(size, base)
    pattern = rng.choice(["plain", "stripes", "checks", "knit"])
    period = scale * rng.uniform(0.15, 0.6)
    angle = rng.choice([0.0, np.pi / 2, np.pi / 4, -np.pi / 4]) + rng.uniform(-0.1, 0.1)
    if pattern in ("stripes", "checks"):
        stripes = np.clip((_wave(size, angle, period, 0.0) - 0.5) * 4 + 0.5, 0, 1)
        if pattern == "checks":
            cross = np.clip((_wave(size, angle + np.pi / 2, period, 0.0) - 0.5) * 4 + 0.5, 0, 1)
            stripes = 0.5 * (stripes + cross)
        field += (other - base) * stripes[..., None]
    elif pattern == "knit":
        field *= (1.0 + 0.12 * _smooth_noise(rng, size, (size[0] / 2, size[1] / 2)))[..., None]
    folds = _fractal_noise(rng, size, rng.uniform(2, 5), 3)
    return field * (1.0 + 0.1 * folds)[..., None]


def _face_features(
    rng: np.random.Generator, size: Size, pose: _Pose, skin: np.ndarray, hair: np.ndarray
) -> np.ndarray:
    """Head colour field: skin with eyes, brows, nose shade and mouth."""
    rx, ry = pose.head_axes
    yaw = rx * rng.uniform(-0.15, 0.15)
    field = _skin_field(rng, size, skin)

    def paint(mask: np.ndarray, colour: np.ndarray) -> None:
        field[:] = field * (1 - mask[..., None]) + np.asarray(colour, np.float32) * mask[..., None]

    to_image = pose.head_to_image
    eyes = [
        _apply(to_image, _ellipse((yaw + s * 0.36 * rx, 0.02 * ry), (0.14 * rx, 0.07 * ry), n=24))
        for s in (-1, 1)
    ]
    brows = [
        (
            _apply(to_image, [(yaw + s * 0.18 * rx, -0.16 * ry), (yaw + s * 0.55 * rx, -0.2 * ry)]),
            max(1.0, 0.06 * ry),
        )
        for s in (-1, 1)
    ]
    nose = _apply(to_image, _ellipse((yaw * 1.3, 0.3 * ry), (0.09 * rx, 0.06 * ry), n=16))
    mouth = _apply(to_image, _ellipse((yaw, 0.55 * ry), (0.24 * rx, 0.06 * ry), n=24))
    paint(_polygon_mask(size, [nose]), skin * 0.8)
    paint(_polygon_mask(size, eyes), (35, 28, 26))
    paint(_polyline_mask(size, brows), hair * 0.9)
    paint(_polygon_mask(size, [mouth]), skin * np.array((0.78, 0.48, 0.48)))
    return field


# ---------------------------------------------------------------------------------------------
# Person assembly
# ---------------------------------------------------------------------------------------------

_COVERAGE_RANGE = (0.15, 0.55)  # solid silhouette share of the image; strands and sheer add a bit
_MAX_POSE_TRIES = 30


def _silhouette(rng: np.random.Generator, size: Size) -> tuple[_Pose, _Hair, dict[str, np.ndarray]]:
    """Sample a pose whose silhouette covers a plausible share of the frame.

    Returns the pose, the hair shapes and the unfeathered coverage masks of the solid parts.
    """
    for _ in range(_MAX_POSE_TRIES):
        pose = _sample_pose(rng, size)
        hair = _sample_hair(rng, pose)
        masks = {
            "torso": _polygon_mask(size, [_torso_polygon(rng, pose)]),
            "arms": _polyline_mask(size, _arm_paths(rng, pose)),
            "back_hair": _polygon_mask(size, _back_hair_polygons(pose, hair)),
            "neck": _polygon_mask(size, [_neck_polygon(pose)]),
            "head": _polygon_mask(size, _head_polygons(pose)),
            "fringe": _polygon_mask(size, [_apply(pose.head_to_image, hair.fringe)]),
        }
        coverage = float(np.maximum.reduce(list(masks.values())).mean())
        if _COVERAGE_RANGE[0] <= coverage <= _COVERAGE_RANGE[1]:
            break
    return pose, hair, masks


def _composite_layers(layers: Sequence[Layer], size: Size) -> tuple[np.ndarray, np.ndarray]:
    """Stack layers bottom to top with premultiplied "over"; return (fg float, alpha float).

    Where alpha is 0 the foreground colour is extended from the nearest visible pixel, like the
    colour-extended foregrounds of real matting datasets.
    """
    alpha = np.zeros(size, np.float32)
    premultiplied = np.zeros((*size, 3), np.float32)
    for coverage, colour in layers:
        premultiplied *= (1.0 - coverage)[..., None]
        premultiplied += colour * coverage[..., None]
        alpha = coverage + alpha * (1.0 - coverage)
    visible = np.round(alpha * 255.0) > 0
    fg = premultiplied / np.maximum(alpha, 1e-6)[..., None]
    nearest = ndimage.distance_transform_edt(~visible, return_distances=False, return_indices=True)
    return fg[nearest[0], nearest[1]], alpha


def _light_field(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Directional light: a gentle brightness ramp across the person."""
    xs, ys = _coords(size)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = ((xs - size[1] / 2) * np.cos(angle) + (ys - size[0] / 2) * np.sin(angle)) / max(size)
    return 1.0 + rng.uniform(0.1, 0.5) * ramp


def generate_person(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Draw one person-like foreground with a soft alpha matte.

    The person is a head-and-shoulders / half-body portrait touching the bottom of the frame and
    covering roughly 15-60 % of it. The matte has feathered body edges, 1 px hair strands leaving
    the head outline and often a semi-transparent veil, scarf or band of loose hair.

    Args:
        rng: random generator; the output is a pure function of its state.
        size: ``(height, width)``, each at least 32.

    Returns:
        ``(fg, alpha)``: uint8 RGB ``HxWx3`` foreground, defined everywhere (colours are
        extended outwards where alpha is 0), and uint8 ``HxW`` alpha.
    """
    size = _check_size(size, "size")
    pose, hair, masks = _silhouette(rng, size)
    ry = pose.head_axes[1]

    skin = _jitter(rng, _SKIN_TONES[rng.integers(len(_SKIN_TONES))])
    hair_rgb = _jitter(rng, _HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))])
    clothing = _clothing_field(rng, size, ry)
    hair_field = _hair_field(rng, size, hair_rgb)
    skin_field = _skin_field(rng, size, skin)
    arms_field = skin_field if rng.random() < 0.35 else clothing * 0.88
    head_field = _face_features(rng, size, pose, skin, hair_rgb)

    sigma = rng.uniform(0.7, 2.0)  # body edge feather, px
    solid = {name: _feather(mask, sigma) for name, mask in masks.items()}
    sheer = rng.choice(["veil", "scarf", "none"], p=[0.4, 0.45, 0.15])
    halo = sheer == "none" or rng.random() < 0.5
    sheer_rgb = _random_colour(rng, sat=(0.0, 0.7), val=(0.3, 1.0))

    layers: list[Layer] = [
        (solid["torso"], clothing),
        (solid["arms"], arms_field),
        (solid["back_hair"], hair_field),
    ]
    if sheer == "veil":
        layers.append((_veil_mask(rng, size, pose, hair), _fill(size, sheer_rgb)))
    layers.append((solid["neck"], skin_field * 0.85))
    if sheer == "scarf":
        layers.append((_scarf_mask(rng, size, pose), _fill(size, sheer_rgb)))
    layers += [(solid["head"], head_field), (solid["fringe"], hair_field)]
    if halo:
        layers.append((_halo_mask(rng, masks["back_hair"], ry), hair_field))
    layers.append((_strands_mask(rng, size, pose, hair), hair_field))

    fg, alpha = _composite_layers(layers, size)
    fg *= _light_field(rng, size)[..., None]
    return to_uint8(fg, scale=1.0), to_uint8(alpha)


# ---------------------------------------------------------------------------------------------
# Backgrounds
# ---------------------------------------------------------------------------------------------


def _gradient(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Linear or radial two-colour gradient with cloudy low-frequency colour variation."""
    xs, ys = _coords(size)
    h, w = size
    if rng.random() < 0.3:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        t = np.hypot(xs - cx, ys - cy) / np.hypot(h, w)
    else:
        angle = rng.uniform(0, 2 * np.pi)
        t = (xs * np.cos(angle) + ys * np.sin(angle)) / np.hypot(h, w) + 0.5
    t = np.clip(t, 0, 1)[..., None]
    c0, c1 = _random_colour(rng), _random_colour(rng)
    clouds = _fractal_noise(rng, size, rng.uniform(1.5, 4), 3)[..., None]
    return c0 * (1 - t) + c1 * t + rng.uniform(0, 20) * clouds * _random_colour(rng) / 255.0


def _horizon(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Split the frame at a slightly tilted horizon; the lower part gets its own texture."""
    size = image.shape[:2]
    xs, ys = _coords(size)
    horizon = size[0] * rng.uniform(0.3, 0.75) + (xs - size[1] / 2) * rng.uniform(-0.15, 0.15)
    ground_mask = np.clip((ys - horizon) / rng.uniform(0.5, 3.0) + 0.5, 0, 1)[..., None]
    ground = _gradient(rng, size)
    ground *= (1 + rng.uniform(0.05, 0.2) * _fractal_noise(rng, size, 8, 4))[..., None]
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
            points = _ellipse(centre, radius * rng.uniform(0.4, 1.0, size=2))
        elif kind == "rect":
            half = radius * rng.uniform(0.2, 1.0, size=2)
            corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)]) * half
            points = _apply(_affine(rng.uniform(-0.3, 0.3), shift=centre), corners)
        else:
            angles = np.sort(rng.uniform(0, 2 * np.pi, size=rng.integers(3, 8)))
            radii = radius * rng.uniform(0.4, 1.0, size=angles.size)
            points = centre + np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii[:, None]
        mask = _feather(_polygon_mask(size, [points]), rng.uniform(0, 8))
        weight = (mask * rng.uniform(0.4, 1.0))[..., None]
        image = image * (1 - weight) + _random_colour(rng) * weight
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
        cv2.polylines(canvas, [_fixed(s) for s in segments], False, 255, thickness, cv2.LINE_AA, _SHIFT)
    else:
        for _ in range(rng.integers(8, 60)):
            segment = _fixed(rng.uniform((0, 0), (w, h), size=(2, 2)))
            value, thickness = int(rng.integers(100, 256)), int(rng.integers(1, 4))
            cv2.polylines(canvas, [segment], False, value, thickness, cv2.LINE_AA, _SHIFT)
    return canvas.astype(np.float32) / 255.0


def _texture(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Add one high-frequency texture: noise, stripes, grid, lines, foliage or bokeh."""
    size = image.shape[:2]
    h, w = size
    kind = rng.choice(["noise", "stripes", "grid", "lines", "foliage", "bokeh"])
    colour = _random_colour(rng)
    if kind == "bokeh":  # out-of-focus highlights, added like light
        circles = [
            _ellipse(rng.uniform((0, 0), (w, h)), [min(h, w) * rng.uniform(0.02, 0.08)] * 2, n=32)
            for _ in range(rng.integers(8, 40))
        ]
        glow = _feather(_polygon_mask(size, circles), rng.uniform(0.5, 3.0))
        return image + (glow * rng.uniform(0.2, 0.6))[..., None] * _random_colour(rng, val=(0.7, 1))
    if kind == "noise":
        channels = 3 if rng.random() < 0.5 else 1
        return image + rng.normal(0, rng.uniform(4, 14), (h, w, channels)).astype(np.float32)
    if kind == "stripes":
        wave = _wave(size, rng.uniform(0, np.pi), rng.uniform(3, 30), rng.uniform(0, 6.3))
        weight = (wave * rng.uniform(0.15, 0.6))[..., None]
        return image * (1 - weight) + colour * weight
    if kind == "foliage":
        leaves = _fractal_noise(rng, size, rng.uniform(6, 20), 3) > rng.uniform(-0.3, 0.8)
        shade = 1 + 0.3 * _smooth_noise(rng, size, (h / 4, w / 4))
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
    size = _check_size(size, "size")
    image = _gradient(rng, size)
    if rng.random() < 0.45:
        image = _horizon(rng, image)
    image = _blobs(rng, image)
    for _ in range(rng.integers(0, 3)):
        image = _texture(rng, image)
    if rng.random() < 0.35:
        image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), rng.uniform(0.8, 4.0))
    xs, ys = _coords(size)
    radius2 = ((xs / size[1] - 0.5) ** 2 + (ys / size[0] - 0.5) ** 2) * 2
    image = image * (1 - rng.uniform(0, 0.35) * radius2)[..., None]
    image = image + rng.normal(0, rng.uniform(0.5, 4.0), image.shape).astype(np.float32)
    result = to_uint8(image, scale=1.0)
    if rng.random() < 0.35:
        result = _jpeg_roundtrip(rng, result)
    return result


# ---------------------------------------------------------------------------------------------
# Dataset on disk
# ---------------------------------------------------------------------------------------------


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_size(value: Any, name: str) -> Size:
    try:
        height, width = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (height, width) pair, got {value!r}") from None
    for side in (height, width):
        if isinstance(side, bool) or not isinstance(side, Integral) or side < _MIN_SIZE:
            raise ValueError(f"{name} must be (height, width) with integers >= {_MIN_SIZE}, got {value!r}")
    return int(height), int(width)


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
    fg_size, bg_size = _check_size(fg_size, "fg_size"), _check_size(bg_size, "bg_size")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")

    root = Path(root)
    manifest = {
        "generator": __name__,
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
