"""tf.data input pipelines over the built shards: read, shuffle, repeat, augment, the preprocessing
passed in, batch, prefetch. What an example of each training stage is lives in
:mod:`matting.data.stages`; nothing here knows the stages.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import tensorflow as tf

from matting.data.augment import build_augmentation, tf_augment
from matting.data.features import (
    ALPHA,
    BACKGROUND,
    COARSE,
    COARSE_QUALITY,
    FEATURE_SPEC,
    FOREGROUND,
    IMAGE,
    SOURCE,
    parse_example,
    shard_pattern,
)
from matting.errors import ConfigError, DataError
from matting.ops import resize_bilinear


def split_files(shards_dir: str, split: str) -> list[str]:
    """The shard files of ``split`` under ``shards_dir``, sorted; none is a :class:`DataError`."""
    folder = Path(shards_dir)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such dataset folder (run build_dataset.py first)")
    files = sorted(str(p) for p in folder.glob(shard_pattern(split)))
    if not files:
        raise DataError(f"{folder}: no {split!r} shards ({shard_pattern(split)})")
    return files


def count_records(files: list[str], sources: list[str] | None = None) -> int:
    """How many records ``files`` hold (reads them once, parsing at most their source), of
    ``sources`` only when given."""
    ds = tf.data.TFRecordDataset(files)
    if sources is not None:
        ds = ds.filter(from_sources(sources))
    return int(ds.reduce(0, lambda n, _: n + 1))


def resized(size):
    """A map function: every picture of a parsed record (image, alpha, mask, layers) resized."""
    size = [int(s) for s in size]

    def resize(example: dict) -> dict:
        pictures = {k: v for k, v in example.items() if k in (IMAGE, ALPHA, COARSE, FOREGROUND, BACKGROUND)}
        return example | {k: resize_bilinear(v, size) for k, v in pictures.items()}

    return resize


def source_shares(sources) -> dict[str, float] | None:
    """``train.input.sources`` as {name: share of the training records}, shares summing to 1, when
    it is a mapping; None for a list (the sources' records in the proportions the shards hold)."""
    if not isinstance(sources, Mapping):
        return None
    try:
        shares = {str(name): float(share) for name, share in sources.items()}
    except (TypeError, ValueError):
        shares = {}
    total = sum(shares.values())
    if not shares or any(not share >= 0 for share in shares.values()) or not total > 0:
        raise ConfigError(
            "train.input.sources as a mapping gives each source a share of the training records "
            f"(numbers >= 0, not all 0), got {dict(sources)!r}"
        )
    return {name: share / total for name, share in shares.items() if share > 0}


def from_sources(sources):
    """A ``tf.data`` predicate on serialized records: whether the record's source is one of
    ``sources`` (names, or a mapping {name: share}: the names of a share above 0). It parses the
    source alone, so the records left out are never decoded."""
    if isinstance(sources, Mapping):
        sources = list(source_shares(sources))
    if isinstance(sources, str) or not sources:
        raise ConfigError(f"train.input.sources must be a non-empty list of source names, got {sources!r}")
    names = tf.constant([str(name) for name in sources])
    spec = {SOURCE: FEATURE_SPEC[SOURCE]}

    def keep(serialized: tf.Tensor) -> tf.Tensor:
        return tf.reduce_any(tf.equal(tf.io.parse_single_example(serialized, spec)[SOURCE], names))

    return keep


def read_records(files: list[str], with_layers: bool = False) -> tf.data.Dataset:
    """Every record of ``files`` parsed (see :func:`parse_example`), in file order."""
    parse = lambda record: parse_example(record, with_layers)  # noqa: E731
    return tf.data.TFRecordDataset(files).map(parse, num_parallel_calls=tf.data.AUTOTUNE)


def make_dataset(
    files: list[str],
    preprocess,
    *,
    training: bool = True,
    batch_size: int = 8,
    shuffle_buffer: int = 256,
    augment: dict | None = None,
    coarse_quality_weight: float | None = None,
    sources: list[str] | None = None,
    augment_size: tuple[int, int] | None = None,
    with_layers: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches of ``preprocess(index, record)`` (a tuple of tensors, such as ``(inputs, target)``)
    over the records of ``files``; ``training`` repeats forever, shuffles and augments.

    ``index`` is the record's position in the stream (evaluation: the same record, the same index).
    ``augment``: :func:`matting.data.augment.build_augmentation`'s arguments (training only).
    ``coarse_quality_weight``: a weight joins each tuple, that of records whose alpha is only a
    coarse mask (COCO, mask folders) set to it, others 1. ``sources``: only the records of these
    sources (the config's source names), such as people alone for the coarse stage of a dataset
    that also holds objects with true alpha for the refinement; a mapping {name: share} also sets
    each source's share of the training records (:func:`source_shares`; evaluation reads every
    record of those with a share above 0). ``augment_size``: (height, width)
    every picture of a record is resized to (bilinear) before augmentation, when the net sees it
    smaller still. ``with_layers``: the records' foreground
    and background are parsed too (they must hold them).
    """
    if batch_size <= 0:
        raise ConfigError(f"train.input.batch_size must be positive, got {batch_size}")
    if not files:
        raise DataError("no shard files to read (an empty list)")

    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        # A new shard order each epoch; forever, as fit counts epochs in steps.
        ds = ds.shuffle(len(files), seed=seed).repeat()
    # Records from several shards at once: parallel reads, and a first mix across shards. The order
    # stays fixed for evaluation.
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)  # fmt: skip
    shares = source_shares(sources) if training else None
    if shares and len(shares) > 1:
        # Each record drawn from a source chosen by its share: a stream per source (each reads
        # every shard and keeps its own records; reading serialized records is cheap beside decoding).
        streams = [ds.filter(from_sources([name])) for name in shares]
        ds = tf.data.Dataset.sample_from_datasets(streams, weights=list(shares.values()), seed=seed)
    elif sources is not None:
        ds = ds.filter(from_sources(sources))
    if training:
        # Shuffle records before decoding them: the buffer holds small serialized records.
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    # Decode; the layers only when asked (they double the decoding).
    ds = ds.map(lambda record: parse_example(record, with_layers), num_parallel_calls=tf.data.AUTOTUNE)
    if augment_size is not None:
        ds = ds.map(resized(augment_size), num_parallel_calls=tf.data.AUTOTUNE)
    if training and augment is not None:
        # albumentations on the full-resolution record; image, alpha, mask and layers move together.
        ds = ds.map(tf_augment(build_augmentation(**augment)), num_parallel_calls=tf.data.AUTOTUNE)

    def weighted(index, example: dict):
        weight = tf.where(example[COARSE_QUALITY] == 1, float(coarse_quality_weight), 1.0)
        return (*preprocess(index, example), weight)

    # The example itself (resizing, targets), numbered so that seeded draws repeat per record.
    mapper = preprocess if coarse_quality_weight is None else weighted
    ds = ds.enumerate().map(mapper, num_parallel_calls=tf.data.AUTOTUNE)
    # Training drops a short last batch: every step sees the same shape (no retracing).
    ds = ds.batch(batch_size, drop_remainder=training)
    # Several workers (``MultiWorkerMirroredStrategy``): each keeps its share of every global batch
    # (DATA), rather than whole shard files of its own (FILE, what AUTO tries first): files split
    # unevenly, or not at all with fewer shards than workers (a small val split), and a worker out
    # of batches before the others would hang them. The cost: every worker reads all the records.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # No autotuning of an evaluation stream. Keras makes a new iterator over the validation data
    # each epoch and deletes the last one; deleting an autotuned iterator blocked for 4-5 s in about
    # half of the epochs (the demo's coarse stage: 151 s with it, 105 s without; its 40 training
    # steps of an epoch take 4.5 s). Its maps still run on all the pool's threads.
    options.autotune.enabled = training
    # Prepare the next batches while the current one trains.
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
