"""A per-process cache of estimated foregrounds (:class:`~matting.data.sources.Foreground` items
whose colours are estimated from the photo)."""

from __future__ import annotations

import collections
import os

import numpy as np

from matting.data.sources import Foreground

_ESTIMATED: collections.OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = collections.OrderedDict()
ESTIMATED_CACHE_BYTES = 256 * 2**20  # per worker process


def load_foreground(item: Foreground) -> tuple[np.ndarray, np.ndarray]:
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
