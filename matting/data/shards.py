"""A generic sharded TFRecord writer: records from a per-record function, written in worker processes.

Each shard's records are made by ``make_record(input)`` for each of its inputs, in order, and the
shard is written under a temporary name and renamed when complete. Written again over the same
folder, the shards already on disk are kept and only the missing ones are written. This module
knows nothing of what the records hold.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import tensorflow as tf
from tqdm import tqdm

from matting.io.files import atomic_path, remove_stale_temporaries


@contextlib.contextmanager
def process_pool(workers: int):
    """``workers`` processes, or ``None`` for one (work in this process). On an error the queued
    tasks are cancelled, so that it is reported now, not after them."""
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
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def usable(pool, workers: int, check, inputs: list, paths: list, skipped: list[dict], desc: str) -> list:
    """The ``inputs`` for which ``check`` finds no problem (it returns the reason, or ``None``),
    checked in the ``pool``'s processes if there is one; the others are appended to ``skipped`` with
    their path and reason, in input order."""
    if pool is None:
        mapped = map(check, inputs)
    else:  # chunks: fewer round trips, but enough of them to keep every worker busy
        mapped = pool.map(check, inputs, chunksize=max(1, min(64, len(inputs) // (4 * workers))))
    problems = list(tqdm(mapped, total=len(inputs), desc=desc, unit="file", leave=False))
    skipped += [{"path": str(p), "reason": why} for p, why in zip(paths, problems, strict=True) if why]
    return [item for item, why in zip(inputs, problems, strict=True) if not why]


@dataclass(frozen=True)
class Shard:
    """One shard: its file name and the inputs of its records, in order (picklable)."""

    name: str
    inputs: list


def write_shard(path: str | Path, records: Iterable[bytes]) -> int:
    """Write ``records`` to a shard under a temporary name, then rename it into place; returns
    how many were written."""
    count = 0
    with atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
        for record in records:
            writer.write(record)
            count += 1
    return count


def _write_task(make_record: Callable, path: str, inputs: list) -> int:
    return write_shard(path, map(make_record, inputs))


def write_shards(pool, make_record: Callable, folder: Path, shards: list[Shard], *, desc: str) -> list[dict]:
    """Write the ``shards`` missing from ``folder`` (in the ``pool``'s processes, ``None``: in this
    one), with a progress bar in records, after removing the temporary files of killed runs.
    ``make_record`` must be picklable. Returns ``{"file", "count", "sha256"}`` of every shard."""
    remove_stale_temporaries(folder)
    missing = [s for s in shards if not (folder / s.name).is_file()]
    progress = tqdm(total=sum(len(s.inputs) for s in shards), desc=desc, unit="record", leave=False)
    progress.update(progress.total - sum(len(s.inputs) for s in missing))  # shards already on disk
    if pool is None:
        for shard in missing:
            progress.update(_write_task(make_record, str(folder / shard.name), shard.inputs))
    else:
        futures = [pool.submit(_write_task, make_record, str(folder / s.name), s.inputs) for s in missing]
        for done in as_completed(futures):
            progress.update(done.result())
    progress.close()
    return [{"file": s.name, "count": len(s.inputs), "sha256": _sha256(folder / s.name)} for s in shards]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
