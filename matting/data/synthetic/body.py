"""Body geometry: the sampled pose and the torso, arm, neck and head outlines it implies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matting.data.synthetic.draw import affine, apply_affine, chaikin, ellipse
from matting.data.synthetic.sizes import Size


@dataclass(frozen=True)
class Pose:
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


def sample_pose(rng: np.random.Generator, size: Size) -> Pose:
    """Random head size, position, tilt, lean, shoulder asymmetry and arm styles."""
    h, w = size
    ry = h * rng.uniform(0.085, 0.15)
    rx = ry * rng.uniform(0.74, 0.86)
    head_y = rng.uniform(1.25 * ry, max(1.25 * ry, 0.86 * h - 1.7 * ry))
    centre_x = w * (0.5 + rng.uniform(-0.2, 0.2))
    head_x = centre_x + rx * rng.uniform(-0.2, 0.2)
    tilt, lean = rng.uniform(-0.25, 0.25), rng.uniform(-0.12, 0.12)
    body_to_image = affine(lean, pivot=(centre_x, h + ry))
    neck_top = (head_x, head_y + 0.75 * ry)
    head_to_body = affine(tilt, pivot=neck_top) @ affine(shift=(head_x, head_y))
    arm_styles = ("none", "none", "down", "akimbo")
    return Pose(
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


def torso_polygon(rng: np.random.Generator, pose: Pose) -> np.ndarray:
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
    return apply_affine(pose.body_to_image, chaikin(np.array(outline)))


def arm_paths(rng: np.random.Generator, pose: Pose) -> list[tuple[np.ndarray, float]]:
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
        points = apply_affine(pose.body_to_image, chaikin(np.array([joint, elbow, hand]), 2))
        paths.append((points, sw * rng.uniform(0.3, 0.4)))
    return paths


def neck_polygon(pose: Pose) -> np.ndarray:
    """Neck from under the (tilted) head to the neck base."""
    ry, nw = pose.head_axes[1], pose.neck_half_width
    top = apply_affine(pose.head_to_image, [(-nw * 0.95, 0.3 * ry), (nw * 0.95, 0.3 * ry)])
    base = apply_affine(
        pose.body_to_image,
        [
            (pose.centre_x + nw * 1.25, pose.shoulder_y + 0.1 * ry),
            (pose.centre_x - nw * 1.25, pose.shoulder_y + 0.1 * ry),
        ],
    )
    return np.vstack([top, base])


def head_polygons(pose: Pose) -> list[np.ndarray]:
    """Face ellipse plus ears."""
    rx, ry = pose.head_axes
    face = ellipse((0, 0), (rx, ry))
    ears = [ellipse((s * rx * 0.97, 0.08 * ry), (0.16 * rx, 0.24 * ry), n=24) for s in (-1, 1)]
    return [apply_affine(pose.head_to_image, p) for p in (face, *ears)]
