"""The TFRecord layout: the one place where the keys and types of a record are written.

A record is one composite at the dataset's output size, or one photo as it is (its own background,
its mask as alpha: ``data.build.photo_share``):

=================  =======  ===============================================================
key                type     content
=================  =======  ===============================================================
``image``          bytes    JPEG, RGB composite (or photo)
``alpha``          bytes    PNG, 8-bit alpha matte of the foreground in the composite
``coarse``         bytes    PNG, 1-bit binary person mask (decodes to 0 / 255)
``coarse_quality`` int64    1 when ``alpha`` itself only comes from a coarse mask (COCO), else 0
``source``         bytes    name of the foreground source (config entry)
``sample_id``      bytes    ``{split}/{index}:{foreground id}+{background id}``, for a photo
                            ``{split}/{index}:{photo id}+photo``
``foreground``     bytes    optional (``data.build.layers``): JPEG, the foreground's colours
                            in its placed box, the background elsewhere (a photo: itself)
``background``     bytes    optional, with ``foreground``: JPEG, the background alone (a
                            photo: itself, so ``foreground - background`` is 0 on it)
=================  =======  ===============================================================

``image = alpha * foreground + (1 - alpha) * background`` (before JPEG rounding): the layers let
the refinement stage's compositional loss compare ``(pred - alpha) * (foreground - background)``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from matting.io.codecs import encode_jpeg, encode_png

IMAGE = "image"
ALPHA = "alpha"
COARSE = "coarse"
COARSE_QUALITY = "coarse_quality"
SOURCE = "source"
SAMPLE_ID = "sample_id"
FOREGROUND = "foreground"
BACKGROUND = "background"

FEATURE_SPEC = {
    IMAGE: tf.io.FixedLenFeature([], tf.string),
    ALPHA: tf.io.FixedLenFeature([], tf.string),
    COARSE: tf.io.FixedLenFeature([], tf.string),
    COARSE_QUALITY: tf.io.FixedLenFeature([], tf.int64),
    SOURCE: tf.io.FixedLenFeature([], tf.string),
    SAMPLE_ID: tf.io.FixedLenFeature([], tf.string),
    FOREGROUND: tf.io.FixedLenFeature([], tf.string, default_value=b""),
    BACKGROUND: tf.io.FixedLenFeature([], tf.string, default_value=b""),
}


def _bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int64(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def encode_example(
    image: np.ndarray,
    alpha: np.ndarray,
    coarse: np.ndarray,
    *,
    source: str,
    sample_id: str,
    coarse_quality: bool = False,
    jpeg_quality: int = 95,
    layers: tuple[np.ndarray, np.ndarray] | None = None,
    layer_quality: int = 90,
) -> bytes:
    """uint8 RGB ``image`` [H, W, 3], uint8 ``alpha`` and binary ``coarse`` [H, W] (0 / 255) ->
    serialized Example. ``layers``: the uint8 RGB foreground and background [H, W, 3], stored as
    JPEG at ``layer_quality`` (they only weigh a loss: 90 keeps them about 30% smaller than 95)."""
    shapes = [image.shape[:2], alpha.shape, coarse.shape] + [layer.shape[:2] for layer in layers or ()]
    if len(set(shapes)) != 1:
        raise ValueError(
            f"{sample_id}: image {image.shape}, alpha {alpha.shape}, coarse {coarse.shape} and "
            f"layers {[layer.shape for layer in layers or ()]} must have one height and width"
        )
    feature = {
        IMAGE: _bytes(encode_jpeg(image, jpeg_quality)),
        ALPHA: _bytes(encode_png(alpha)),
        COARSE: _bytes(encode_png(coarse, bilevel=True)),
        COARSE_QUALITY: _int64(coarse_quality),
        SOURCE: _bytes(source.encode()),
        SAMPLE_ID: _bytes(sample_id.encode()),
    }
    if layers is not None:
        feature[FOREGROUND] = _bytes(encode_jpeg(layers[0], layer_quality))
        feature[BACKGROUND] = _bytes(encode_jpeg(layers[1], layer_quality))
    # deterministic: map fields sorted by key, so the bytes do not depend on the hash seed of
    # the process (each worker has its own): one config gives byte-identical shards.
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(deterministic=True)


def parse_example(serialized: tf.Tensor, with_layers: bool = False) -> dict[str, tf.Tensor]:
    """Serialized Example -> ``image`` [H, W, 3], ``alpha`` and ``coarse`` [H, W, 1] float32 in
    [0, 1], plus ``coarse_quality`` (int64), ``source`` and ``sample_id`` (strings); ``with_layers``:
    ``foreground`` and ``background`` [H, W, 3] too (the records must hold them: see
    :func:`has_layers`)."""
    features = tf.io.parse_single_example(serialized, FEATURE_SPEC)

    def decode(key: str, channels: int) -> tf.Tensor:
        pixels = tf.io.decode_image(features[key], channels=channels, expand_animations=False)
        return tf.image.convert_image_dtype(pixels, tf.float32)

    parsed = {
        IMAGE: decode(IMAGE, 3),
        ALPHA: decode(ALPHA, 1),
        COARSE: decode(COARSE, 1),
        COARSE_QUALITY: features[COARSE_QUALITY],
        SOURCE: features[SOURCE],
        SAMPLE_ID: features[SAMPLE_ID],
    }
    if with_layers:
        parsed[FOREGROUND], parsed[BACKGROUND] = decode(FOREGROUND, 3), decode(BACKGROUND, 3)
    return parsed


def has_layers(shard: str) -> bool:
    """Whether the records of ``shard`` hold the foreground and background layers (its first
    record tells: one build writes them for all or none)."""
    for serialized in tf.data.TFRecordDataset(shard).take(1):
        example = tf.train.Example.FromString(serialized.numpy())
        return FOREGROUND in example.features.feature and BACKGROUND in example.features.feature
    return False


def shard_name(split: str, index: int, count: int) -> str:
    """``train-00003-of-00016.tfrecord``."""
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def shard_pattern(split: str) -> str:
    """Glob matching every shard of ``split``."""
    return f"{split}-*-of-*.tfrecord"
