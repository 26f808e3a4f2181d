"""What an example of each training stage is, its net and its loss: the one place that switches on
the stage.

- ``coarse``: image -> coarse person mask, both resized to ``size`` (192x160 by default).
- ``fine``: image + a coarse mask made by degrading the true alpha -> alpha, at ``size``
  (768x640 by default). Degrading the alpha stands in for the paper's quality unification: the
  refinement net learns from masks of every quality a coarse net may produce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import keras
import tensorflow as tf

from matting.data.augment import recomposites
from matting.data.features import ALPHA, BACKGROUND, COARSE, FOREGROUND, IMAGE, SOURCE, has_layers
from matting.data.pipeline import make_dataset
from matting.errors import CheckpointError, ConfigError
from matting.losses import alpha_loss, bce_dice_loss
from matting.models import build_coarse, build_fine
from matting.models.loading import load_checkpoint
from matting.models.sizes import check_input_size
from matting.ops import resize_bilinear


def degrade_alpha(
    alpha: tf.Tensor,
    *,
    coarse_size=(192, 160),
    threshold_range=(0.2, 0.8),
    max_morph: float = 0.03,
    max_shift: float = 0.0,
    hole_probability: float = 0.0,
    max_hole: float = 0.15,
    clean_probability: float = 0.0,
    seed: tf.Tensor | None = None,
) -> tf.Tensor:
    """A coarse mask as a coarse net might give it, made from the true ``alpha`` [H, W, 1].

    With ``seed`` (an int ``[2]`` tensor) the draws are stateless: the same seed, the same mask
    (used for validation, so every epoch scores the same inputs).

    Steps: threshold at a random level in ``threshold_range``; resample down to ``coarse_size``;
    there, dilate or erode by a random radius up to ``max_morph`` of the height; resample back up
    (the blocky, soft edge of a low-resolution prediction). The result stays within that radius
    (plus the resample's blur) of the thresholded alpha. Optionally, at the coarse size too: shift
    by up to ``max_shift`` of the height and width (a misaligned prediction), and with
    ``hole_probability`` cut a rectangular hole of up to ``max_hole`` of each side (a missed part:
    a hand, a bag).

    With ``clean_probability`` the mask is instead the alpha thresholded at 0.5 at full resolution:
    a good mask (what ``refine_from=gt_mask`` gives, or a good segmenter), which the refinement must
    learn to leave alone but for its soft edges. A net that only ever sees degraded masks learns to
    smear every mask it gets.
    """
    if not 0.0 <= clean_probability <= 1.0:
        raise ConfigError(
            f"train.examples.degrade.clean_probability is a probability in [0, 1], got {clean_probability}"
        )

    def uniform(draw: int, minval, maxval, dtype=tf.float32):
        if seed is None:
            return tf.random.uniform([], minval, maxval, dtype=dtype)
        draw_seed = tf.cast(seed, tf.int64) + tf.constant([0, 1_000_003], tf.int64) * draw
        return tf.random.stateless_uniform([], draw_seed, minval, maxval, dtype=dtype)

    full_size = tf.shape(alpha)[:2]
    mask = tf.cast(alpha > uniform(0, *threshold_range), tf.float32)[None]  # [1, H, W, 1]
    # The rest at the coarse net's resolution, as its prediction would be (and 16x cheaper than
    # the morphology at 768x640, which made the refinement's input pipeline its bottleneck).
    mask = resize_bilinear(mask, coarse_size)
    size = tf.constant([int(s) for s in coarse_size])
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
    mask = tf.clip_by_value(resize_bilinear(mask, full_size)[0], 0.0, 1.0)
    if clean_probability:
        clean = tf.cast(alpha > 0.5, tf.float32)
        mask = tf.where(uniform(9, 0.0, 1.0) < clean_probability, clean, mask)
    return mask


def random_crop(stacked: tf.Tensor, alpha: tf.Tensor, crop, *, edge_probability: float = 0.0) -> tf.Tensor:
    """A ``crop`` (height, width) window of ``stacked`` ``[H, W, C]``: anywhere, or with
    ``edge_probability`` centred on a pixel of ``alpha`` ``[H, W]`` strictly between 0 and 1 (the
    window kept inside the frame), as Deep Image Matting crops around its trimaps' unknown regions.
    Random windows of a person's frame are mostly flat inside or outside; the soft edges, where the
    refinement's error is, come up in a few of them. A frame without soft pixels gets a random window.
    """
    if not 0.0 <= edge_probability <= 1.0:
        raise ConfigError(f"train.examples.edge_crop is a probability in [0, 1], got {edge_probability}")
    size = [int(crop[0]), int(crop[1]), stacked.shape[-1]]
    if not edge_probability:
        return tf.image.random_crop(stacked, size)
    soft = tf.where((alpha > 0.02) & (alpha < 0.98))  # [N, 2] (row, column)

    def around_edge():
        centre = tf.cast(soft[tf.random.uniform([], 0, tf.shape(soft)[0], tf.int32)], tf.int32)
        limit = tf.shape(stacked)[:2] - size[:2]
        corner = tf.clip_by_value(centre - [size[0] // 2, size[1] // 2], 0, limit)
        return tf.slice(stacked, [corner[0], corner[1], 0], size)

    use_edge = (tf.shape(soft)[0] > 0) & (tf.random.uniform([]) < edge_probability)
    return tf.cond(use_edge, around_edge, lambda: tf.image.random_crop(stacked, size))


# ---------------------------------------------------------------------------------------------------
# The stages
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """One training stage: its net's input ``size`` (height, width), the net's builder arguments
    ``net`` (``model.<stage>``) and the loss weights ``loss_weights`` (``train.loss``)."""

    size: tuple[int, int]
    net: dict = field(default_factory=dict)
    loss_weights: dict = field(default_factory=dict)

    name: ClassVar[str]
    with_layers: ClassVar[bool] = False  # whether its examples need the records' layers
    # Subclasses: _builder (the net's constructor) and _loss (the loss function, per image).

    def build_net(self) -> keras.Model:
        """The stage's untrained net, checked against ``size``."""
        net = self._builder(**self.net)
        check_input_size(net, self.size, f"model.{self.name}_size")
        return net

    @property
    def loss(self):
        """The stage's loss with its weights bound, as Keras expects it: ``(target, pred) -> [B]``."""

        def loss(target, pred):
            return self._loss(target, pred, **self.loss_weights)

        loss.__name__ = f"{self.name}_loss"
        return loss

    def dataset(self, files: list[str], *, training: bool = True, seed: int | None = None, **options):
        """Batches of this stage's examples from ``files``; ``options``: those of
        :func:`matting.data.pipeline.make_dataset` (batch size, shuffle buffer, augmentation ...)."""
        if len(self.size) != 2 or min(self.size) <= 0:
            raise ConfigError(f"model.{self.name}_size must be two positive numbers, got {self.size}")
        self._check(files)
        preprocess = self.preprocess(training=training, seed=seed)
        # The layers also when the augmentation re-composites from them and every shard holds them
        # (else it quietly leaves the images as they are).
        with_layers = self.with_layers or (
            training and recomposites(options.get("augment")) and all(map(has_layers, files))
        )
        return make_dataset(
            files, preprocess, training=training, seed=seed, with_layers=with_layers,
            augment_size=self.augment_size, **options,
        )  # fmt: skip

    @property
    def augment_size(self) -> tuple[int, int] | None:
        """The (height, width) records are resized to before augmentation, or None: as they are."""
        return None

    def preprocess(self, *, training: bool, seed: int | None):
        """``(index, record) -> (inputs, target)``: one example from a parsed record."""
        raise NotImplementedError

    def _check(self, files: list[str]) -> None:
        """Refuse settings or shards the stage cannot use."""


@dataclass(frozen=True)
class CoarseStage(Stage):
    """Image ``[h, w, 3]`` -> the record's coarse person mask ``[h, w, 1]``, both at ``size``."""

    name: ClassVar[str] = "coarse"
    _builder = staticmethod(build_coarse)
    _loss = staticmethod(bce_dice_loss)

    @property
    def augment_size(self) -> tuple[int, int]:
        """Twice the net's input: augmenting 768x640 records (and their layers) for a 192x160 net
        spent most of the input pipeline's time on pixels the resize then drops."""
        return (2 * int(self.size[0]), 2 * int(self.size[1]))

    def preprocess(self, *, training: bool, seed: int | None):
        size = [int(s) for s in self.size]

        def example(index, record: dict):
            # Resize after augmentation so flips and jitter act on the full-resolution record.
            image = resize_bilinear(record[IMAGE], size)  # as the inference graph resizes
            return image, resize_bilinear(record[COARSE], size)

        return example


@dataclass(frozen=True)
class FineStage(Stage):
    """Image + coarse mask ``[h, w, 4]`` -> alpha ``[h, w, 1]`` at ``size``; with the compositional
    loss (``loss_weights["composition_weight"]``), target ``[h, w, 4]``: alpha, then foreground -
    background (the records must hold the layers).

    The coarse mask is the true alpha degraded (:func:`degrade_alpha` with ``degrade``, through
    ``coarse_size``), or with ``coarse_predictions`` (a trained coarse net's ``.keras``) that net's
    prediction on the whole frame, as the pipeline makes it; ``coarse_predictions_sources`` (names)
    restricts the predictions to those sources' records, the others keep the degraded alpha (a
    person net's mask means nothing on the objects of a matting set). ``crop`` (training): random
    crops of this (height, width) from the ``size`` frame instead of the whole frame: full-resolution
    detail at a fraction of the step's cost; ``edge_crop``: the probability that a crop is centred
    on a soft edge (:func:`random_crop`).
    """

    coarse_size: tuple[int, int] = (192, 160)
    crop: list[int] | None = None
    edge_crop: float = 0.0
    degrade: dict | None = None
    coarse_predictions: str | None = None
    coarse_predictions_sources: list[str] | None = None

    name: ClassVar[str] = "fine"
    _builder = staticmethod(build_fine)
    _loss = staticmethod(alpha_loss)

    def __post_init__(self):
        if self.coarse_predictions and not Path(self.coarse_predictions).is_file():
            raise CheckpointError(
                f"{self.coarse_predictions}: no such coarse checkpoint (train.examples.coarse_predictions)"
            )
        sources = self.coarse_predictions_sources
        if sources is not None and (not self.coarse_predictions or isinstance(sources, str) or not sources):
            raise ConfigError(
                "train.examples.coarse_predictions_sources: a non-empty list of source names, with "
                f"train.examples.coarse_predictions set; got {sources!r} and {self.coarse_predictions!r}"
            )

    @property
    def with_layers(self) -> bool:
        return bool(self.loss_weights.get("composition_weight"))

    @cached_property
    def coarse_model(self) -> keras.Model:
        """The ``coarse_predictions`` net, loaded on first use: after the stage's own net is built,
        so that its seeded initial weights do not depend on this load."""
        return load_checkpoint(self.coarse_predictions)

    def _check(self, files: list[str]) -> None:
        size, crop = self.size, self.crop
        if crop is not None and (len(crop) != 2 or not 0 < crop[0] <= size[0] or not 0 < crop[1] <= size[1]):
            raise ConfigError(
                f"train.examples.crop must be (height, width) within model size {list(size)}, got {crop}"
            )
        if self.edge_crop and crop is None:
            raise ConfigError("train.examples.edge_crop centres crops: it needs train.examples.crop")
        for path in files if self.with_layers else ():
            if not has_layers(path):
                raise ConfigError(
                    f"{path}: its records hold no foreground and background layers, which the "
                    "compositional loss needs: rebuild the dataset with data.build.layers=true, or set "
                    "train.loss.composition_weight=0"
                )

    def preprocess(self, *, training: bool, seed: int | None):
        size, with_layers, crop = [int(s) for s in self.size], self.with_layers, self.crop
        edge_crop = self.edge_crop

        # Loaded here, eagerly: loaded while tf.data traces the function, its weights would be
        # the graph's own initial values, not the checkpoint's.
        coarse_model = self.coarse_model if self.coarse_predictions else None

        def predicted(image):  # the coarse net's mask of the whole frame, before any crop
            mask = coarse_model(resize_bilinear(image[None], self.coarse_size), training=False)
            return resize_bilinear(tf.cast(mask[0], tf.float32), size)

        def example(index, record: dict):
            # Resize after augmentation so flips and jitter act on the full-resolution record.
            image = resize_bilinear(record[IMAGE], size)  # as the inference graph resizes
            alpha = resize_bilinear(record[ALPHA], size)
            target = alpha
            if with_layers:
                difference = resize_bilinear(record[FOREGROUND], size) - resize_bilinear(
                    record[BACKGROUND], size
                )
                target = tf.concat([alpha, difference], axis=-1)
            # Evaluation degrades each record the same way every epoch; training draws afresh.
            mask_seed = None if training else tf.stack([tf.constant(seed or 0, tf.int64), index])
            degraded = lambda: degrade_alpha(  # noqa: E731
                alpha, coarse_size=self.coarse_size, seed=mask_seed, **(self.degrade or {})
            )
            if not self.coarse_predictions:
                coarse = degraded()
            elif self.coarse_predictions_sources is None:
                coarse = predicted(image)
            else:
                ours = tf.reduce_any(tf.equal(record[SOURCE], tf.constant(self.coarse_predictions_sources)))
                coarse = tf.cond(ours, lambda: predicted(image), degraded)
            inputs = tf.concat([image, coarse], axis=-1)
            if training and crop:
                # The mask is degraded on the whole frame (as a coarse net sees it), then cropped.
                stacked = tf.concat([inputs, target], axis=-1)
                stacked = random_crop(stacked, alpha[..., 0], crop, edge_probability=edge_crop)
                return stacked[..., :4], stacked[..., 4:]
            return inputs, target

        return example


def make_stage(name: str, *, model: dict, loss: dict | None = None, **examples) -> Stage:
    """Stage ``name`` ("coarse" or "fine") with its sizes and net from the model config ``model``
    (``coarse_size``, ``fine_size``, ``coarse``, ``fine``), its loss weights ``loss``, and
    ``examples``: the fine stage's ``crop``, ``edge_crop``, ``degrade``, ``coarse_predictions`` and
    ``coarse_predictions_sources``."""
    loss = loss or {}
    if name == "coarse":
        examples = {key: value for key, value in examples.items() if value is not None}
        if examples:  # a preset's per-stage settings may leave them null for the coarse stage
            raise ConfigError(
                f"train.examples: {sorted(examples)} are for the fine stage, not the coarse one"
            )
        return CoarseStage(model["coarse_size"], model["coarse"], loss)
    if name == "fine":
        return FineStage(
            model["fine_size"], model["fine"], loss, coarse_size=model["coarse_size"], **examples
        )
    raise ConfigError(f"train.stage must be 'coarse' or 'fine', got {name!r}")
