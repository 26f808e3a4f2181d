"""Hair: the sampled hair shapes, thin strands leaving the outline and a halo of loose hair."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from matting.data.synthetic.body import Pose
from matting.data.synthetic.draw import SHIFT, apply_affine, chaikin, ellipse, fixed
from matting.data.synthetic.noise import smooth_noise
from matting.data.synthetic.sizes import Size


@dataclass(frozen=True)
class Hair:
    """Hair shapes in head-local coordinates."""

    centre: tuple[float, float]  # centre of the hair volume ellipse
    axes: tuple[float, float]  # axes of the hair volume ellipse
    long_sides: list[np.ndarray]  # polygons of long hair falling beside the neck (may be empty)
    long_extent: tuple[float, float]  # (half width, length) of the long hair, zeros if short
    parting: float  # x of the parting; hair flows away from it
    fringe: np.ndarray  # polygon of the hair covering the top of the face


def sample_hair(rng: np.random.Generator, pose: Pose) -> Hair:
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
            long_sides.append(chaikin(np.array(outline), 2, closed=True))
        long_extent = (spread, length)

    # Fringe: the top of the face ellipse down to a wavy hair line with a parting.
    arc = ellipse((0, 0), (rx * 1.1, ry * 1.1), 165, 375, n=48)  # covers the feathered edge
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
    return Hair(centre, axes, long_sides, long_extent, parting, fringe)


def back_hair_polygons(pose: Pose, hair: Hair) -> list[np.ndarray]:
    """Hair volume behind the head plus long hair, in image coordinates."""
    polygons = [ellipse(hair.centre, hair.axes), *hair.long_sides]
    return [apply_affine(pose.head_to_image, p) for p in polygons]


def _strand_roots(
    rng: np.random.Generator, pose: Pose, hair: Hair, count: int
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
    return apply_affine(pose.head_to_image, roots), normals, flows


def strands_mask(rng: np.random.Generator, size: Size, pose: Pose, hair: Hair) -> np.ndarray:
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
        chosen = [fixed(curve) for curve in curves[levels == level]]
        if chosen:
            value = round(255 * (level + 1) / 8)
            cv2.polylines(canvas, chosen, False, value, 1, cv2.LINE_AA, SHIFT)
    return canvas.astype(np.float32) / 255.0


def halo_mask(rng: np.random.Generator, hair_mask: np.ndarray, ry: float) -> np.ndarray:
    """A fuzzy band of loose hair around the hair outline, fading outwards."""
    outside = (hair_mask < 0.5).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 3)
    width = ry * rng.uniform(0.12, 0.3)
    falloff = np.clip(1.0 - distance / width, 0.0, 1.0) ** 1.5
    size = hair_mask.shape
    fibres = smooth_noise(rng, size, (size[0] / 2.5, size[1] / 2.5))
    texture = np.clip(0.75 + 0.35 * fibres, 0.0, 1.0)
    return falloff * texture * rng.uniform(0.35, 0.7) * (1.0 - hair_mask)
