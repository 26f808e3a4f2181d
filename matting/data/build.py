"""Sources x backgrounds -> composites (and photos) -> ``{split}-00000-of-000NN.tfrecord`` shards + manifest.

Most records are composites: a foreground pasted on a background. With ``photo_share`` > 0 that
fraction of each split's records are photos as they are, with their own background and their mask
as alpha (items of sources whose ``uses`` include ``photo``): what composites lack, real scenes.

Determinism: the split of foregrounds and backgrounds and every record depend only on the config
and ``seed`` (each sample has its own generator seeded with ``[seed, split, index]``), so one config
gives byte-identical shards. Resumability: a shard is written to a temporary file and renamed when
complete; a build run again over the same folder keeps the shards that exist and writes the rest
(:mod:`matting.data.shards`).
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import math
import time
from pathlib import Path

import cv2
import numpy as np

from matting.data.composite import cover_crop, cover_window, place_foreground, resize_image
from matting.data.features import encode_example, shard_name
from matting.data.foreground_cache import load_foreground
from matting.data.shards import Shard, process_pool, usable, write_shards
from matting.data.sources import COMPOSITE, PHOTO, Foreground, list_backgrounds, load_sources
from matting.data.splits import SPLITS, Splits, assign_splits
from matting.errors import ConfigError, DataError
from matting.io.files import write_atomic
from matting.io.images import read_image

BUILD_FILE = "build.json"
MANIFEST_FILE = "manifest.json"
SPLITS_FILE = "splits.json"
# Bumped whenever the same settings would give other splits or other bytes, so that a build folder
# from another version is refused rather than completed with shards that do not match.
BUILDER_VERSION = 2
# The model card's dataset: about 90k composites with a 1000-image test split.
CARD_COUNTS = {"train": 89_000, "val": 1_000, "test": 1_000}


def build_dataset(
    *,
    sources: list[dict],
    backgrounds: list[str],
    out_dir: str,
    size=(768, 640),
    counts: dict | None = None,
    holdout: dict | None = None,
    samples_per_shard: int = 512,
    scale_range=(0.6, 1.0),
    max_offset: float = 0.15,
    max_drop: float = 0.0,
    jpeg_quality: int = 95,
    layers: bool = False,
    layer_quality: int = 90,
    photo_share: float = 0.0,
    photo_zoom: float = 1.0,
    photo_squeeze: float = 0.0,
    seed: int = 0,
    workers: int = 1,
) -> dict:
    """Build train / val / test shards under ``out_dir`` and write ``manifest.json``; returns it.

    ``counts`` gives the number of records per split (a split left out: none; no ``counts``:
    ``CARD_COUNTS``, the model card's), ``holdout`` the fraction of foregrounds (photos included)
    and of backgrounds kept for val and test (no foreground or background is shared between splits).
    ``layers`` also stores each composite's foreground and background (two more JPEGs a record,
    at ``layer_quality``), which the refinement stage's compositional loss needs.
    ``photo_share`` of each split's records are photos as they are (:func:`photo_record`), spread
    evenly through it, each framed by a crop zoomed in by a random 1 to ``photo_zoom`` times, or,
    with probability ``photo_squeeze``, the whole photo resized to ``size`` whatever its aspect (as
    inference resizes it: a landscape photo squeezed into a portrait frame).
    """
    settings = _settings(
        sources=sources, backgrounds=backgrounds, size=size, counts=counts, holdout=holdout,
        samples_per_shard=samples_per_shard, scale_range=scale_range, max_offset=max_offset,
        max_drop=max_drop, jpeg_quality=jpeg_quality, layers=layers, layer_quality=layer_quality,
        photo_share=photo_share, photo_zoom=photo_zoom, photo_squeeze=photo_squeeze, seed=seed,
    )  # fmt: skip
    if workers <= 0:
        raise ConfigError(f"data.build.workers must be positive, got {workers}")
    bg_paths = list_backgrounds(backgrounds)
    items, skipped = load_sources(sources)
    settings |= {"inputs": _fingerprint(items, bg_paths), "builder": BUILDER_VERSION}
    out = Path(out_dir)
    _check_folder(out, settings)
    if (out / MANIFEST_FILE).is_file():
        return json.loads((out / MANIFEST_FILE).read_text())

    # One pool of worker processes (each imports TensorFlow) checks the inputs and writes every split.
    with process_pool(workers) as pool:
        items, bgs = _check_inputs(pool, workers, items, bg_paths, skipped, settings)
        share = settings["photo_share"]
        photos = {split: sum(_photo_flags(int(n), share)) for split, n in settings["counts"].items()}
        splits = assign_splits(items, bgs, settings["holdout"], settings["counts"], seed, photos)
        write_atomic(out / BUILD_FILE, _settings_text(settings).encode())  # the folder is now ours
        manifest = {"settings": settings, "splits": {}, "skipped": skipped}
        started = time.perf_counter()
        for split_index, split in enumerate(SPLITS):
            if count := int(settings["counts"].get(split, 0)):
                manifest["splits"][split] = _write_split(pool, out, split_index, count, splits, settings)
        manifest["seconds"] = round(time.perf_counter() - started, 2)
    write_atomic(out / SPLITS_FILE, json.dumps(splits.listing(), indent=1).encode())
    write_atomic(out / MANIFEST_FILE, json.dumps(manifest, indent=2).encode())
    return manifest


def _settings(**given) -> dict:
    """The settings as ``build.json`` records them, defaults filled in, each checked."""
    counts = given["counts"]
    settings = given | {
        "size": [int(s) for s in given["size"]],
        "counts": dict(CARD_COUNTS) if counts is None else {split: 0 for split in SPLITS} | dict(counts),
        "holdout": {"val": 0.1, "test": 0.1, **(given["holdout"] or {})},
        "scale_range": list(given["scale_range"]),
        "layers": bool(given["layers"]),
    }
    _check_config(settings)
    # 0 and 0.0 are one setting: build.json must not tell them apart.
    return settings | {key: float(settings[key]) for key in ("photo_share", "photo_zoom", "photo_squeeze")}


def _check_config(settings: dict) -> None:
    """A clear error for each setting out of its range."""
    size, counts, holdout = settings["size"], settings["counts"], settings["holdout"]
    if len(size) != 2 or min(size) <= 0:
        raise ConfigError(f"data.build.size must be two positive numbers (height, width), got {size}")
    for split in SPLITS:
        if int(counts.get(split, 0)) < (1 if split == "train" else 0):
            least = "positive" if split == "train" else ">= 0"
            raise ConfigError(f"data.build.counts.{split} must be {least}, got {counts.get(split)}")
    if sum(holdout.get(s, 0.0) for s in ("val", "test")) >= 1.0 or min(holdout.values()) < 0:
        raise ConfigError(f"data.build.holdout fractions must be >= 0 and sum below 1, got {holdout}")
    if not isinstance(settings["samples_per_shard"], int) or settings["samples_per_shard"] <= 0:
        raise ConfigError(
            f"data.build.samples_per_shard must be a positive integer, got {settings['samples_per_shard']}"
        )
    low_high = settings["scale_range"]
    if len(low_high) != 2 or not 0 < low_high[0] <= low_high[1]:
        raise ConfigError(f"data.build.scale_range must be [low, high] with 0 < low <= high, got {low_high}")
    if not 0 <= settings["max_offset"] <= 1 or not 0 <= settings["max_drop"] < 1:
        raise ConfigError(
            f"data.build.max_offset must be in [0, 1] and max_drop in [0, 1), got {settings['max_offset']} "
            f"and {settings['max_drop']}"
        )
    for key in ("jpeg_quality", "layer_quality"):
        if not 1 <= settings[key] <= 100:
            raise ConfigError(f"data.build.{key} must be in [1, 100], got {settings[key]}")
    share, zoom = settings["photo_share"], settings["photo_zoom"]
    if not _is_number(share) or not 0 <= share <= 1:
        raise ConfigError(
            f"data.build.photo_share must be a number in [0, 1] (the fraction of each split's records "
            f"that are photos), got {share!r}"
        )
    squeeze = settings["photo_squeeze"]
    if not _is_number(squeeze) or not 0 <= squeeze <= 1:
        raise ConfigError(
            f"data.build.photo_squeeze must be a number in [0, 1] (the probability that a photo record "
            f"is the whole photo resized to the frame), got {squeeze!r}"
        )
    if not _is_number(zoom) or zoom < 1:
        raise ConfigError(
            f"data.build.photo_zoom must be a number >= 1 (1: the least crop that fills the frame), "
            f"got {zoom!r}"
        )
    if share > 0 and not any(PHOTO in (entry.get("uses") or ()) for entry in settings["sources"] or ()):
        raise ConfigError(
            f"data.build.photo_share is {share} but no entry of data.build.sources has {PHOTO!r} in its "
            f"uses: add uses: [{PHOTO}] (or [{COMPOSITE}, {PHOTO}]) to a mask_folder or matte_folder entry, "
            "or set data.build.photo_share=0"
        )


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _foreground_problem(item: Foreground) -> str | None:
    try:
        item.validate()
    except DataError as error:
        return str(error)
    return None


def _background_problem(path: Path) -> str | None:
    try:
        read_image(path)
    except DataError as error:
        return str(error)
    return None


def _check_inputs(pool, workers: int, items: list, bg_paths: list, skipped: list, settings: dict):
    """The foregrounds and backgrounds that decode (at COCO scale tens of thousands of images, so
    in the pool); the others are appended to ``skipped``. None of either is a :class:`DataError`."""
    fg_paths = [item.fg_path for item in items]
    items = usable(pool, workers, _foreground_problem, items, fg_paths, skipped, "check foregrounds")
    bgs = usable(pool, workers, _background_problem, bg_paths, bg_paths, skipped, "check backgrounds")
    if not items:
        raise DataError(f"no usable foreground in {[s.get('root') for s in settings['sources']]}")
    if not bgs:
        raise DataError(f"no usable background image in {settings['backgrounds']}")
    return items, bgs


def make_composite(
    item: Foreground,
    bg_path: Path,
    size: tuple[int, int],
    rng: np.random.Generator,
    *,
    scale_range=(0.6, 1.0),
    max_offset=0.15,
    max_drop=0.0,
    with_layers: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """One composite: uint8 image ``[H, W, 3]``, alpha ``[H, W]``, binary coarse mask ``[H, W]``
    and, ``with_layers``, the foreground (its colours in its box, the background elsewhere) and
    the background ``[H, W, 3]``; else ``None``."""
    fg, alpha = load_foreground(item)  # uint8 throughout: the stored alpha is exactly the placed one
    placed = place_foreground(
        fg, alpha, size, rng, scale_range=tuple(scale_range), max_offset=max_offset, max_drop=max_drop
    )
    bg = cover_crop(read_image(bg_path), size, rng)
    image = placed.over(bg, inplace=not with_layers)
    layers = (placed.canvas_fg(bg), bg) if with_layers else None
    alpha = placed.canvas_alpha()
    return image, alpha, _coarse(alpha), layers


def make_photo(
    item: Foreground,
    size: tuple[int, int],
    rng: np.random.Generator,
    *,
    zoom=1.0,
    squeeze: float = 0.0,
    with_layers: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """One photo as it is, in the layout of :func:`make_composite`: the photo and its alpha cropped
    to the aspect of ``size`` and scaled to it. The crop is the largest that fits, zoomed in by a
    random 1 to ``zoom`` times (1: no more cut than the aspect needs, so the person stays in frame)
    at a random place. With probability ``squeeze``, the whole photo instead, resized to ``size``
    whatever its aspect: what the coarse net sees of a photo at inference, where a cover crop would
    cut a landscape photo's sides away and never show a person squeezed. ``with_layers``: the photo
    is both layers, so ``image = alpha * fg + (1 - alpha) * bg`` holds and the compositional loss is
    0 on it: a photo carries no layers."""
    photo, alpha = item.load_photo()
    # No draw without squeeze: the records of a build without it keep their bytes.
    if squeeze and rng.random() < squeeze:
        window = np.s_[:, :]
    else:
        window = cover_window(photo.shape, size, rng, rng.uniform(1.0, zoom))
    image, alpha = resize_image(photo[window], size), resize_image(alpha[window], size)
    return image, alpha, _coarse(alpha), (image, image) if with_layers else None


def _coarse(alpha: np.ndarray) -> np.ndarray:
    """The binary mask of a record, from its stored 8-bit alpha, so that records agree exactly:
    alpha > 0.5 <=> alpha >= 128."""
    return cv2.threshold(alpha, 127, 255, cv2.THRESH_BINARY)[1]


def composite_record(
    sample: tuple[int, Foreground], *, split: str, split_index: int, backgrounds: list, options: dict
) -> bytes:
    """Sample ``(i, foreground)`` of ``split`` -> serialized Example, on a background drawn from
    ``backgrounds``. Each sample has its own generator seeded with ``[seed, split_index, i]``: any
    worker, any order, the same bytes. ``options``: see :func:`_options`."""
    i, item = sample
    o = options
    rng = np.random.default_rng([o["seed"], split_index, i])
    bg_path = backgrounds[int(rng.integers(len(backgrounds)))]
    image, alpha, coarse, layers = make_composite(
        item, bg_path, o["size"], rng, scale_range=o["scale_range"], max_offset=o["max_offset"],
        max_drop=o["max_drop"], with_layers=o["with_layers"],
    )  # fmt: skip
    return encode_example(
        image, alpha, coarse, source=item.source, coarse_quality=item.coarse_quality,
        sample_id=f"{split}/{i}:{item.id}+{bg_path.name}", jpeg_quality=o["jpeg_quality"],
        layers=layers, layer_quality=o["layer_quality"],
    )  # fmt: skip


def photo_record(sample: tuple[int, Foreground], *, split: str, split_index: int, options: dict) -> bytes:
    """Sample ``(i, photo)`` of ``split`` -> serialized Example of the photo as it is
    (:func:`make_photo`), its generator seeded as :func:`composite_record`'s."""
    i, item = sample
    o = options
    rng = np.random.default_rng([o["seed"], split_index, i])
    image, alpha, coarse, layers = make_photo(
        item,
        o["size"],
        rng,
        zoom=o["photo_zoom"],
        squeeze=o["photo_squeeze"],
        with_layers=o["with_layers"],
    )
    return encode_example(
        image, alpha, coarse, source=item.source, coarse_quality=item.coarse_quality,
        sample_id=f"{split}/{i}:{item.id}+photo", jpeg_quality=o["jpeg_quality"],
        layers=layers, layer_quality=o["layer_quality"],
    )  # fmt: skip


def sample_record(
    sample: tuple[int, Foreground, str], *, split: str, split_index: int, backgrounds: list, options: dict
) -> bytes:
    """Sample ``(i, item, use)`` -> :func:`photo_record` or :func:`composite_record` of ``(i, item)``."""
    i, item, use = sample
    if use == PHOTO:
        return photo_record((i, item), split=split, split_index=split_index, options=options)
    return composite_record(
        (i, item), split=split, split_index=split_index, backgrounds=backgrounds, options=options
    )


def _options(settings: dict) -> dict:
    """What :func:`composite_record` and :func:`photo_record` need of the settings."""
    keys = ("seed", "max_offset", "max_drop", "jpeg_quality", "layer_quality", "photo_zoom", "photo_squeeze")
    return {key: settings[key] for key in keys} | {
        "size": tuple(settings["size"]),
        "scale_range": tuple(settings["scale_range"]),
        "with_layers": settings["layers"],
    }


def _photo_flags(count: int, share: float) -> list[bool]:
    """Whether each of a split's ``count`` samples is a photo: sample ``i`` is one where
    ``floor((i + 1) * share)`` steps up, so the photos are spread evenly through the split, from
    the index alone, about ``count * share`` in all."""
    return [math.floor((i + 1) * share) > math.floor(i * share) for i in range(count)]


def _plan(split: str, count: int, splits: Splits, share: float, samples_per_shard: int) -> list[Shard]:
    """The shards of a split: ``samples_per_shard`` samples ``(i, item, use)`` each. The photos
    (:func:`_photo_flags`) go round-robin over the split's photos, the composites round-robin over
    its foregrounds (share 0: sample ``i`` on foreground ``i % len(foregrounds)``). Each shard
    holds only its own items: shards are pickled."""
    pools = {COMPOSITE: splits.foregrounds[split], PHOTO: splits.photos[split]}
    made = {COMPOSITE: 0, PHOTO: 0}
    samples = []
    for i, is_photo in enumerate(_photo_flags(count, share)):
        use = PHOTO if is_photo else COMPOSITE
        samples.append((i, pools[use][made[use] % len(pools[use])], use))
        made[use] += 1
    num_shards = math.ceil(count / samples_per_shard)
    return [
        Shard(shard_name(split, s, num_shards), samples[s * samples_per_shard : (s + 1) * samples_per_shard])
        for s in range(num_shards)
    ]


def _write_split(pool, out: Path, split_index: int, count: int, splits: Splits, settings: dict) -> dict:
    """Write the shards of one split (those not on disk yet); returns its entry of the manifest."""
    split = SPLITS[split_index]
    bgs = splits.backgrounds[split]
    shards = _plan(split, count, splits, settings["photo_share"], settings["samples_per_shard"])
    record = functools.partial(
        sample_record, split=split, split_index=split_index, backgrounds=bgs, options=_options(settings)
    )
    by_use = {use: collections.Counter() for use in (COMPOSITE, PHOTO)}
    for _, item, use in (sample for s in shards for sample in s.inputs):
        by_use[use][item.source] += 1
    return {
        "count": count,
        "photos": sum(by_use[PHOTO].values()),  # records; the rest are composites
        "foregrounds": len(splits.foregrounds[split]),
        "backgrounds": len(bgs),
        "photo_items": len(splits.photos[split]),
        "by_source": dict(by_use[COMPOSITE]),  # composites
        "photos_by_source": dict(by_use[PHOTO]),
        "shards": write_shards(pool, record, out, shards, desc=f"build {split}"),
    }


def _settings_text(settings: dict) -> str:
    return json.dumps(settings, indent=2, sort_keys=True)


def _fingerprint(items: list[Foreground], backgrounds: list[Path]) -> dict:
    """The path and byte size of every input file, hashed: a build folder is reused (resumed, or
    its manifest returned) only for the same inputs, not after files were added, removed, renamed
    or changed in size (an edit that keeps a file's size goes unnoticed)."""
    files = sorted({path for item in items for path in (item.fg_path, item.alpha_path)} | set(backgrounds))
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path}\t{path.stat().st_size}\n".encode())
    digest.update("\n".join(sorted(item.id for item in items)).encode())  # COCO: one file, many persons
    return {"files": len(files), "sha256": digest.hexdigest()}


def _check_folder(out: Path, settings: dict) -> None:
    """Refuse a folder that holds another build, or anything that is not a build."""
    build_file = out / BUILD_FILE
    if build_file.is_file():
        # A folder built before photo records existed holds composites only: these keys' defaults.
        built = {"photo_share": 0.0, "photo_zoom": 1.0, "photo_squeeze": 0.0} | json.loads(
            build_file.read_text()
        )
        if built.get("builder") != settings["builder"]:
            raise DataError(
                f"{out}: was written by another version of the dataset builder (version "
                f"{built.get('builder', 1)}, this one is {settings['builder']}: other splits or other "
                "bytes); delete the folder to rebuild, or choose another data.shards_dir"
            )
        same_settings = _settings_text({**built, "inputs": None}) == _settings_text(
            {**settings, "inputs": None}
        )
        if built.get("inputs") != settings["inputs"] and same_settings:
            raise DataError(
                f"{out}: was built from other input files (now {settings['inputs']['files']} files, then "
                f"{built.get('inputs', {}).get('files', '?')}; names or sizes changed): delete the folder "
                "to rebuild, or choose another data.shards_dir"
            )
        if _settings_text(built) != _settings_text(settings):
            raise DataError(
                f"{out}: holds a dataset built with other settings (see {BUILD_FILE}); "
                "delete the folder or choose another data.shards_dir"
            )
        return
    if out.is_dir() and any(out.iterdir()):
        raise DataError(f"{out}: not empty and not a dataset folder; choose another data.shards_dir")
