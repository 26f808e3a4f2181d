"""Sources x backgrounds -> composites -> ``{split}-00000-of-000NN.tfrecord`` shards + manifest.

Determinism: the split of foregrounds and backgrounds and every composite depend only on the config
and ``seed`` (each sample has its own generator seeded with ``[seed, split, index]``), so one config
gives byte-identical shards. Resumability: a shard is written to a temporary file and renamed when
complete; a build run again over the same folder keeps the shards that exist and writes the rest.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from matting.data.composite import cover_crop, place_foreground
from matting.data.features import encode_example, shard_name
from matting.data.sources import Foreground, list_backgrounds, load_sources
from matting.errors import ConfigError, DataError
from matting.io.files import atomic_path, remove_stale_temporaries, write_atomic
from matting.io.images import read_image

SPLITS = ("train", "val", "test")
BUILD_FILE = "build.json"
MANIFEST_FILE = "manifest.json"
# Bumped whenever the same settings would give other splits or other bytes, so that a build folder
# from another version is refused rather than completed with shards that do not match.
BUILDER_VERSION = 2
# The model card's dataset: about 90k composites with a 1000-image test split.
CARD_COUNTS = {"train": 89_000, "val": 1_000, "test": 1_000}


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


def _split_pool(
    items: list, holdout: dict, rng: np.random.Generator, group=None, stratum=None
) -> dict[str, list]:
    """Shuffle ``items`` and cut them into disjoint train / val / test pools; items with the same
    ``group(item)`` (the persons of one photo) always land in the same pool. With ``stratum``
    (the source) the fractions apply to each stratum on its own, so that every source, even a
    small one, is in val and test in proportion. A nonzero fraction holds out at least one item
    of each stratum, but one is always left for train (so a source of two is in train and test
    only, and a source of one in train only)."""
    keys = [group(item) if group else i for i, item in enumerate(items)]
    strata: dict = {}
    for key, item in zip(keys, items, strict=True):
        strata.setdefault(stratum(item) if stratum else "", set()).add(key)
    assigned = {}
    for name in sorted(strata):
        members = sorted(strata[name])
        order = [members[i] for i in rng.permutation(len(members))]
        start = 0
        for split in ("test", "val"):
            fraction = holdout.get(split, 0.0)
            take = max(round(fraction * len(members)), 1) if fraction else 0
            take = max(0, min(take, len(members) - start - 1))  # one is always left for train
            assigned.update({key: split for key in order[start : start + take]})
            start += take
    pools: dict[str, list] = {}
    for key, item in zip(keys, items, strict=True):
        pools.setdefault(assigned.get(key, "train"), []).append(item)
    return {split: pools.get(split, []) for split in ("train", "val", "test")}


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


def _usable(pool, workers: int, check, inputs: list, paths: list, skipped: list[dict], desc: str) -> list:
    """The ``inputs`` for which ``check`` finds no problem (decoding each one, in the ``pool``'s
    processes if there is one: at COCO scale this is tens of thousands of images); the others are
    appended to ``skipped`` with their path and reason, in input order."""
    if pool is None:
        mapped = map(check, inputs)
    else:  # chunks: fewer round trips, but enough of them to keep every worker busy
        mapped = pool.map(check, inputs, chunksize=max(1, min(64, len(inputs) // (4 * workers))))
    problems = list(tqdm(mapped, total=len(inputs), desc=desc, unit="file", leave=False))
    skipped += [{"path": str(p), "reason": why} for p, why in zip(paths, problems, strict=True) if why]
    return [item for item, why in zip(inputs, problems, strict=True) if not why]


_ESTIMATED: collections.OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = collections.OrderedDict()
ESTIMATED_CACHE_BYTES = 256 * 2**20  # per worker process


def _load(item: Foreground) -> tuple[np.ndarray, np.ndarray]:
    """``item.load()``, kept (least recently used first out, up to ``ESTIMATED_CACHE_BYTES`` per
    process) for foregrounds whose colours are estimated: that takes 50-100 ms a photo (pymatting),
    against a few ms to decode one, and a foreground serves many composites. The kept arrays are
    read-only, so no composite can change them for the next.

    Sample ``i`` of a split uses foreground ``i % len(foregrounds)``, so this pays off where an
    estimated source has fewer foregrounds than fit in the cache (alphamatting.com's 27, AIM-500's
    500 at a few MB each: partly); a P3M-10k-sized one is estimated once per composite."""
    if not item.estimate_foreground:
        return item.load()
    # The files themselves, not the item's id: one process may build from several folders.
    files = (str(item.fg_path), str(item.alpha_path))
    try:
        key = (*files, item.feather, *((s.st_ino, s.st_size, s.st_mtime_ns) for s in map(os.stat, files)))
    except OSError:
        return item.load()  # which says what is wrong with the files
    if key in _ESTIMATED:
        _ESTIMATED.move_to_end(key)
        return _ESTIMATED[key]
    loaded = item.load()
    for array in loaded:
        array.setflags(write=False)
    _ESTIMATED[key] = loaded
    while (
        sum(a.nbytes + b.nbytes for a, b in _ESTIMATED.values()) > ESTIMATED_CACHE_BYTES
        and len(_ESTIMATED) > 1
    ):
        _ESTIMATED.popitem(last=False)
    return loaded


def make_composite(
    item: Foreground,
    bg_path: Path,
    size: tuple[int, int],
    rng: np.random.Generator,
    *,
    scale_range=(0.6, 1.0),
    max_offset=0.15,
    max_drop=0.0,
    layers: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """One composite: uint8 image ``[H, W, 3]``, alpha ``[H, W]``, binary coarse mask ``[H, W]``
    and, with ``layers``, the foreground (its colours in its box, the background elsewhere) and
    the background ``[H, W, 3]``; else ``None``."""
    fg, alpha = _load(item)  # uint8 throughout: the stored alpha is exactly the placed one
    placed = place_foreground(
        fg, alpha, size, rng, scale_range=tuple(scale_range), max_offset=max_offset, max_drop=max_drop
    )
    bg = cover_crop(read_image(bg_path), size, rng)
    image = placed.over(bg, inplace=not layers)
    if layers:
        layers = (placed.canvas_fg(bg), bg)
    alpha = placed.canvas_alpha()
    # The mask from the stored 8-bit alpha, so records agree exactly: alpha > 0.5 <=> alpha >= 128.
    return image, alpha, cv2.threshold(alpha, 127, 255, cv2.THRESH_BINARY)[1], layers or None


@dataclass
class ShardTask:
    """Everything one worker needs to write one shard (picklable)."""

    path: str
    split: str
    split_index: int
    indices: range
    foregrounds: list  # the foreground of each sample, in the order of ``indices``
    backgrounds: list  # the split's backgrounds, drawn from by each sample's generator
    options: dict


def build_shard(task: ShardTask) -> int:
    """Composite the samples of one shard and write it (under a temporary name, then renamed).
    Each sample has its own generator seeded with ``[seed, split, index]``: any worker, any order,
    the same bytes."""
    o = task.options
    records = []
    for i, item in zip(task.indices, task.foregrounds, strict=True):
        rng = np.random.default_rng([o["seed"], task.split_index, i])
        bg_path = task.backgrounds[int(rng.integers(len(task.backgrounds)))]
        image, alpha, coarse, layers = make_composite(
            item, bg_path, o["size"], rng, scale_range=o["scale_range"], max_offset=o["max_offset"],
            max_drop=o["max_drop"],
            layers=o["layers"],
        )  # fmt: skip
        records.append(
            encode_example(
                image, alpha, coarse, source=item.source, coarse_quality=item.coarse_quality,
                sample_id=f"{task.split}/{i}:{item.id}+{bg_path.name}", jpeg_quality=o["jpeg_quality"],
                layers=layers, layer_quality=o["layer_quality"],
            )
        )  # fmt: skip
    _write_shard(Path(task.path), records)
    return len(records)


@contextlib.contextmanager
def _pool(workers: int):
    """``workers`` processes, or ``None`` for one (work in this process)."""
    if workers <= 1:
        yield None
        return
    context = multiprocessing.get_context("spawn")  # TensorFlow is not fork-safe
    # A worker is one core: OpenCV's own thread pool would only contend with the other workers
    # (and costs more than it gives on the small operations of a composite).
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=cv2.setNumThreads, initargs=(1,))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # report the error now, not after the queued shards
        raise
    pool.shutdown(wait=True)


def _run_tasks(pool, tasks: list[ShardTask], *, desc: str, total: int) -> None:
    """Run the shard tasks in the ``pool``'s processes (``None``: in this process), with a progress bar."""
    progress = tqdm(total=total, desc=desc, unit="img", leave=False)
    progress.update(total - sum(len(t.indices) for t in tasks))  # shards already on disk
    if pool is None:
        for task in tasks:
            progress.update(build_shard(task))
    else:
        for done in as_completed([pool.submit(build_shard, task) for task in tasks]):
            progress.update(done.result())
    progress.close()


def _write_shard(path: Path, records: list[bytes]) -> None:
    """Write a shard under a temporary name, then rename it into place."""
    with atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
        for record in records:
            writer.write(record)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    seed: int = 0,
    workers: int = 1,
) -> dict:
    """Build train / val / test shards under ``out_dir`` and write ``manifest.json``; returns it.

    ``counts`` gives the number of composites per split (a split left out: none; no ``counts``:
    ``CARD_COUNTS``, the model card's), ``holdout`` the fraction of foregrounds
    and of backgrounds kept for val and test (no foreground or background is shared between splits).
    ``layers`` also stores each composite's foreground and background (two more JPEGs a record,
    at ``layer_quality``), which the refinement stage's compositional loss needs.
    """
    counts = dict(CARD_COUNTS) if counts is None else {split: 0 for split in SPLITS} | dict(counts)
    holdout = {"val": 0.1, "test": 0.1, **(holdout or {})}
    size = tuple(int(s) for s in size)
    settings = {
        "sources": sources, "backgrounds": backgrounds, "size": list(size), "counts": counts,
        "holdout": holdout, "samples_per_shard": samples_per_shard,
        "scale_range": list(scale_range), "max_offset": max_offset, "max_drop": max_drop,
        "jpeg_quality": jpeg_quality, "layers": bool(layers), "layer_quality": layer_quality, "seed": seed,
    }  # fmt: skip
    _check_config(settings)
    if workers <= 0:
        raise ConfigError(f"data.build.workers must be positive, got {workers}")
    skipped: list[dict] = []
    bg_paths = list_backgrounds(backgrounds)
    items, why = load_sources(sources)
    skipped += why
    settings["inputs"] = _fingerprint(items, bg_paths)
    settings["builder"] = BUILDER_VERSION
    out = Path(out_dir)
    _check_folder(out, settings)
    manifest_path = out / MANIFEST_FILE
    if manifest_path.is_file():
        return json.loads(manifest_path.read_text())

    # One pool of worker processes (each imports TensorFlow) checks the inputs and writes every split.
    with _pool(workers) as pool:
        items = _usable(
            pool,
            workers,
            _foreground_problem,
            items,
            [i.fg_path for i in items],
            skipped,
            "check foregrounds",
        )
        bgs = _usable(pool, workers, _background_problem, bg_paths, bg_paths, skipped, "check backgrounds")
        if not items:
            raise DataError(f"no usable foreground in {[s.get('root') for s in sources]}")
        if not bgs:
            raise DataError(f"no usable background image in {backgrounds}")

        rng = np.random.default_rng(seed)
        fg_pools = _split_pool(
            items, holdout, rng, group=lambda item: item.group, stratum=lambda item: item.source
        )
        bg_pools = _split_pool(bgs, holdout, rng)
        for split in SPLITS:
            if int(counts.get(split, 0)) and not (fg_pools[split] and bg_pools[split]):
                raise DataError(
                    f"split {split!r} got {len(fg_pools[split])} foregrounds and {len(bg_pools[split])} "
                    f"backgrounds: add data, lower data.build.holdout or set data.build.counts.{split}=0 "
                    "(one foreground and one background of each source always stay in train)"
                )
        write_atomic(out / BUILD_FILE, _settings_text(settings).encode())  # the folder is now ours
        remove_stale_temporaries(out)
        options = {
            key: settings[key]
            for key in ("seed", "max_offset", "max_drop", "jpeg_quality", "layers", "layer_quality")
        }
        options.update(size=size, scale_range=tuple(scale_range))
        manifest = {"settings": settings, "splits": {}, "skipped": skipped}
        started = time.perf_counter()
        for split_index, split in enumerate(SPLITS):
            n = int(counts.get(split, 0))
            if n == 0:
                continue
            fgs, split_bgs = fg_pools[split], bg_pools[split]
            num_shards = math.ceil(n / samples_per_shard)
            by_source: dict[str, int] = {}
            for i in range(n):
                source = fgs[i % len(fgs)].source
                by_source[source] = by_source.get(source, 0) + 1
            tasks = []
            for shard in range(num_shards):
                path = out / shard_name(split, shard, num_shards)
                if not path.is_file():  # a resumed build keeps the shards that are complete
                    indices = range(shard * samples_per_shard, min(n, (shard + 1) * samples_per_shard))
                    used = [fgs[i % len(fgs)] for i in indices]  # not the whole list: tasks are pickled
                    tasks.append(ShardTask(str(path), split, split_index, indices, used, split_bgs, options))
            _run_tasks(pool, tasks, desc=f"build {split}", total=n)
            shards = []
            for shard in range(num_shards):
                path = out / shard_name(split, shard, num_shards)
                count = min(n, (shard + 1) * samples_per_shard) - shard * samples_per_shard
                shards.append({"file": path.name, "count": count, "sha256": _sha256(path)})
            manifest["splits"][split] = {
                "count": n,
                "foregrounds": len(fgs),
                "backgrounds": len(split_bgs),
                "by_source": by_source,
                "shards": shards,
            }
        manifest["seconds"] = round(time.perf_counter() - started, 2)
        # Which foreground and background went to which split: the fixed, documented held-out subsets.
        splits = {
            split: {
                "foregrounds": sorted(item.id for item in fg_pools[split]),
                "backgrounds": sorted(str(p) for p in bg_pools[split]),
            }
            for split in SPLITS
        }
        write_atomic(out / "splits.json", json.dumps(splits, indent=1).encode())
        write_atomic(manifest_path, json.dumps(manifest, indent=2).encode())
        return manifest


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
        built = json.loads(build_file.read_text())
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
