"""Person assembly: :func:`generate_person`.

Samples a silhouette, colours its parts and composites the layers into a foreground with a soft
alpha matte.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from matting.data.synthetic.body import (
    Pose,
    arm_paths,
    head_polygons,
    neck_polygon,
    sample_pose,
    torso_polygon,
)
from matting.data.synthetic.colours import (
    HAIR_COLOURS,
    SKIN_TONES,
    clothing_field,
    face_features,
    fill,
    hair_field,
    jitter,
    random_colour,
    skin_field,
)
from matting.data.synthetic.draw import apply_affine, feather, polygon_mask, polyline_mask
from matting.data.synthetic.hair import Hair, back_hair_polygons, halo_mask, sample_hair, strands_mask
from matting.data.synthetic.noise import coords
from matting.data.synthetic.sheer import scarf_mask, veil_mask
from matting.data.synthetic.sizes import Size, check_size
from matting.io.codecs import to_uint8

Layer = tuple[np.ndarray, np.ndarray]  # (coverage HxW float32 in [0, 1], colour HxWx3 float32)
_COVERAGE_RANGE = (0.15, 0.55)  # solid silhouette share of the image; strands and sheer add a bit
_MAX_POSE_TRIES = 30


def _silhouette(rng: np.random.Generator, size: Size) -> tuple[Pose, Hair, dict[str, np.ndarray]]:
    """Sample a pose whose silhouette covers a plausible share of the frame.

    Returns the pose, the hair shapes and the unfeathered coverage masks of the solid parts.
    """
    for _ in range(_MAX_POSE_TRIES):
        pose = sample_pose(rng, size)
        hair = sample_hair(rng, pose)
        masks = {
            "torso": polygon_mask(size, [torso_polygon(rng, pose)]),
            "arms": polyline_mask(size, arm_paths(rng, pose)),
            "back_hair": polygon_mask(size, back_hair_polygons(pose, hair)),
            "neck": polygon_mask(size, [neck_polygon(pose)]),
            "head": polygon_mask(size, head_polygons(pose)),
            "fringe": polygon_mask(size, [apply_affine(pose.head_to_image, hair.fringe)]),
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
    xs, ys = coords(size)
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
    size = check_size(size, "size")
    pose, hair, masks = _silhouette(rng, size)
    ry = pose.head_axes[1]

    skin = jitter(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))])
    hair_rgb = jitter(rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))])
    clothing = clothing_field(rng, size, ry)
    hair_colours = hair_field(rng, size, hair_rgb)
    skin_colours = skin_field(rng, size, skin)
    arms_field = skin_colours if rng.random() < 0.35 else clothing * 0.88
    head_field = face_features(rng, size, pose, skin, hair_rgb)

    sigma = rng.uniform(0.7, 2.0)  # body edge feather, px
    solid = {name: feather(mask, sigma) for name, mask in masks.items()}
    sheer = rng.choice(["veil", "scarf", "none"], p=[0.4, 0.45, 0.15])
    halo = sheer == "none" or rng.random() < 0.5
    sheer_rgb = random_colour(rng, sat=(0.0, 0.7), val=(0.3, 1.0))

    layers: list[Layer] = [
        (solid["torso"], clothing),
        (solid["arms"], arms_field),
        (solid["back_hair"], hair_colours),
    ]
    if sheer == "veil":
        layers.append((veil_mask(rng, size, pose, hair), fill(size, sheer_rgb)))
    layers.append((solid["neck"], skin_colours * 0.85))
    if sheer == "scarf":
        layers.append((scarf_mask(rng, size, pose), fill(size, sheer_rgb)))
    layers += [(solid["head"], head_field), (solid["fringe"], hair_colours)]
    if halo:
        layers.append((halo_mask(rng, masks["back_hair"], ry), hair_colours))
    layers.append((strands_mask(rng, size, pose, hair), hair_colours))

    fg, alpha = _composite_layers(layers, size)
    fg *= _light_field(rng, size)[..., None]
    return to_uint8(fg, scale=1.0), to_uint8(alpha)
