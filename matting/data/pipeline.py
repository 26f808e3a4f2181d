"""tf.data input pipelines over the built shards, one per training stage.

- ``stage="coarse"``: image -> coarse person mask, both resized to ``size`` (192x160 by default).
- ``stage="fine"``: image + a coarse mask made by degrading the true alpha -> alpha, at ``size``
  (768x640 by default). Degrading the alpha stands in for the paper's quality unification: the
  refinement net learns from masks of every quality a coarse net may produce.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from matting.data.augment import build_augmentation, tf_augment
from matting.data.features import (
    ALPHA,
    BACKGROUND,
    COARSE,
    COARSE_QUALITY,
    FOREGROUND,
    IMAGE,
    has_layers,
    parse_example,
    shard_pattern,
)
from matting.errors import ConfigError, DataError
from matting.ops import resize_bilinear

STAGES = ("coarse", "fine")


def split_files(shards_dir: str, split: str) -> list[str]:
    """The shard files of ``split`` under ``shards_dir``, sorted; none is a :class:`DataError`."""
    folder = Path(shards_dir)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such dataset folder (run build_dataset.py first)")
    files = sorted(str(p) for p in folder.glob(shard_pattern(split)))
    if not files:
        raise DataError(f"{folder}: no {split!r} shards ({shard_pattern(split)})")
    return files


def count_records(files: list[str]) -> int:
    """How many records ``files`` hold (reads them once, without parsing)."""
    return int(tf.data.TFRecordDataset(files).reduce(0, lambda n, _: n + 1))


def read_records(files: list[str], layers: bool = False) -> tf.data.Dataset:
    """Every record of ``files`` parsed (see :func:`parse_example`), in file order."""
    parse = lambda record: parse_example(record, layers)  # noqa: E731
    return tf.data.TFRecordDataset(files).map(parse, num_parallel_calls=tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------------------------------
# Augmentation and mask degradation: tensors [H, W, C] float32 in [0, 1]
# ---------------------------------------------------------------------------------------------------


def degrade_alpha(
    alpha: tf.Tensor,
    *,
    coarse_size=(192, 160),
    threshold_range=(0.2, 0.8),
    max_morph: float = 0.03,
    max_shift: float = 0.0,
    hole_probability: float = 0.0,
    max_hole: float = 0.15,
    seed: tf.Tensor | None = None,
) -> tf.Tensor:
    """A coarse mask as a coarse net might give it, made from the true ``alpha`` [H, W, 1].

    With ``seed`` (an int ``[2]`` tensor) the draws are stateless: the same seed, the same mask
    (used for validation, so every epoch scores the same inputs).

    Steps: threshold at a random level in ``threshold_range``; dilate or erode by a random radius up
    to ``max_morph`` of the height; resample down to ``coarse_size`` and back up (the blocky, soft
    edge of a low-resolution prediction). The result stays within that radius (plus the resample's
    blur) of the thresholded alpha. Optionally, before the resample: shift by up to ``max_shift`` of
    the height and width (a misaligned prediction), and with ``hole_probability`` cut a rectangular
    hole of up to ``max_hole`` of each side (a missed part: a hand, a bag).
    """

    def uniform(draw: int, minval, maxval, dtype=tf.float32):
        if seed is None:
            return tf.random.uniform([], minval, maxval, dtype=dtype)
        draw_seed = tf.cast(seed, tf.int64) + tf.constant([0, 1_000_003], tf.int64) * draw
        return tf.random.stateless_uniform([], draw_seed, minval, maxval, dtype=dtype)

    size = tf.shape(alpha)[:2]
    mask = tf.cast(alpha > uniform(0, *threshold_range), tf.float32)[None]  # [1, H, W, 1]
    max_radius = tf.cast(tf.cast(size[0], tf.float32) * max_morph, tf.int32)  # 0: no morphology
    radius = uniform(1, 0, max_radius + 1, tf.int32)
    # Dilation (or erosion, on the inverted mask) by a (2r+1)-square: r passes of a 3x3 max pool.
    sign = tf.where(uniform(2, 0.0, 1.0) < 0.5, 1.0, -1.0)
    mask = (
        sign
        * tf.while_loop(
            lambda i, m: i < radius,
            lambda i, m: (i + 1, tf.nn.max_pool2d(m, 3, 1, "SAME")),
            (tf.constant(0), sign * mask),
        )[1]
    )
    if max_shift:
        limit = tf.cast(tf.cast(size, tf.float32) * max_shift, tf.int32)
        dy, dx = uniform(3, -limit[0], limit[0] + 1, tf.int32), uniform(4, -limit[1], limit[1] + 1, tf.int32)
        padded = tf.pad(mask, [[0, 0], [limit[0], limit[0]], [limit[1], limit[1]], [0, 0]])
        mask = padded[:, limit[0] - dy : limit[0] - dy + size[0], limit[1] - dx : limit[1] - dx + size[1]]
    if hole_probability:
        hole_size = tf.cast(tf.cast(size, tf.float32) * max_hole * uniform(5, 0.3, 1.0), tf.int32)
        top = uniform(6, 0, tf.maximum(size[0] - hole_size[0], 1), tf.int32)
        left = uniform(7, 0, tf.maximum(size[1] - hole_size[1], 1), tf.int32)
        rows, cols = tf.range(size[0])[:, None], tf.range(size[1])[None, :]
        hole = (rows >= top) & (rows < top + hole_size[0]) & (cols >= left) & (cols < left + hole_size[1])
        cut = hole & (uniform(8, 0.0, 1.0) < hole_probability)
        mask = mask * (1.0 - tf.cast(cut, tf.float32)[None, ..., None])
    mask = resize_bilinear(resize_bilinear(mask, coarse_size), size)
    return tf.clip_by_value(mask[0], 0.0, 1.0)


# ---------------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------------


def make_dataset(
    files: list[str],
    *,
    stage: str,
    size=(192, 160),
    batch_size: int = 8,
    training: bool = True,
    shuffle_buffer: int = 256,
    coarse_size=(192, 160),
    degrade: dict | None = None,
    augment: dict | None = None,
    coarse_quality_weight: float | None = None,
    coarse_model=None,
    crop: list[int] | None = None,
    layers: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches of ``(inputs, target)`` for ``stage``; training repeats forever and shuffles.

    coarse: inputs ``[B, h, w, 3]``, target ``[B, h, w, 1]`` (the coarse mask).
    fine:   inputs ``[B, h, w, 4]`` (image + degraded mask), target ``[B, h, w, 1]`` (alpha); with
            ``layers``, target ``[B, h, w, 4]``: alpha, then foreground - background (the
            compositional loss's weights; the records must hold the layers).

    ``coarse_quality_weight``: batches become ``(inputs, target, weight)``, the weight of records
    whose alpha is only a coarse mask (COCO, mask folders) set to it, others 1. ``coarse_model``
    (fine stage): a trained coarse net whose predictions replace the degraded alpha. ``crop``
    (training, fine stage): random crops of this (height, width) from the ``size`` frame instead of
    the whole frame: full-resolution detail at a fraction of the step's cost.
    """
    if stage not in STAGES:
        raise ConfigError(f"stage must be one of {STAGES}, got {stage!r}")
    if len(size) != 2 or min(size) <= 0 or batch_size <= 0:
        raise ConfigError(
            f"model.*_size must be two positive numbers and train.input.batch_size positive: "
            f"{size}, {batch_size}"
        )
    size = [int(s) for s in size]
    if crop is not None and (len(crop) != 2 or not 0 < crop[0] <= size[0] or not 0 < crop[1] <= size[1]):
        raise ConfigError(f"train.input.crop must be (height, width) within model size {size}, got {crop}")
    if not files:
        raise DataError("no shard files to read (an empty list)")
    layers = layers and stage == "fine"
    for path in files if layers else ():
        if not has_layers(path):
            raise ConfigError(
                f"{path}: its records hold no foreground and background layers, which the "
                "compositional loss needs: rebuild the dataset with data.build.layers=true, or set "
                "train.loss.composition_weight=0"
            )

    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        # Shuffle shard order each epoch, then interleave records from several shards at once.
        ds = ds.shuffle(len(files), seed=seed).repeat()
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)  # fmt: skip
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    ds = ds.map(lambda record: parse_example(record, layers), num_parallel_calls=tf.data.AUTOTUNE)
    if training and augment is not None:
        # albumentations on the full-resolution record; image, alpha, mask and layers move together.
        ds = ds.map(tf_augment(build_augmentation(**augment)), num_parallel_calls=tf.data.AUTOTUNE)

    def to_stage(index, example: dict):
        # Resize after augmentation so flips and jitter act on the full-resolution record.
        image = resize_bilinear(example[IMAGE], size)  # as the inference graph resizes
        if stage == "coarse":
            return image, resize_bilinear(example[COARSE], size)
        alpha = resize_bilinear(example[ALPHA], size)
        target = alpha
        if layers:
            difference = resize_bilinear(example[FOREGROUND], size) - resize_bilinear(
                example[BACKGROUND], size
            )
            target = tf.concat([alpha, difference], axis=-1)
        # Evaluation degrades each record the same way every epoch; training draws afresh.
        mask_seed = None if training else tf.stack([tf.constant(seed or 0, tf.int64), index])
        coarse = degrade_alpha(alpha, coarse_size=coarse_size, seed=mask_seed, **(degrade or {}))
        inputs = tf.concat([image, coarse], axis=-1)
        if training and crop:
            # The mask is degraded on the whole frame (as a coarse net sees it), then cropped.
            stacked = tf.concat([inputs, target], axis=-1)
            stacked = tf.image.random_crop(stacked, [*crop, stacked.shape[-1]])
            return stacked[..., :4], stacked[..., 4:]
        return inputs, target

    def with_weight(index, example: dict):
        weight = tf.where(example[COARSE_QUALITY] == 1, float(coarse_quality_weight), 1.0)
        return (*to_stage(index, example), weight)

    mapper = to_stage if coarse_quality_weight is None else with_weight
    ds = ds.enumerate().map(mapper, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=training)
    if stage == "fine" and coarse_model is not None:

        def predicted_mask(inputs, *rest):
            image = inputs[..., :3]
            coarse = coarse_model(resize_bilinear(image, coarse_size), training=False)
            return (tf.concat([image, resize_bilinear(tf.cast(coarse, tf.float32), size)], axis=-1), *rest)

        ds = ds.map(predicted_mask)
    return ds.prefetch(tf.data.AUTOTUNE)
