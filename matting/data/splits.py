"""The split policy: which foregrounds and backgrounds go to train, val and test.

The pools are disjoint (no foreground or background is shared between splits), the persons of one
photo stay in one split, and each source is held out in proportion. They depend only on the inputs,
the held-out fractions and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matting.errors import DataError

SPLITS = ("train", "val", "test")


def split_pool(
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
    return {split: pools.get(split, []) for split in SPLITS}


@dataclass(frozen=True)
class Splits:
    """The foregrounds and the background paths of each split."""

    foregrounds: dict[str, list]
    backgrounds: dict[str, list]

    def listing(self) -> dict:
        """Which foreground and background went to which split: the fixed, documented held-out
        subsets (``splits.json``)."""
        return {
            split: {
                "foregrounds": sorted(item.id for item in self.foregrounds[split]),
                "backgrounds": sorted(str(p) for p in self.backgrounds[split]),
            }
            for split in SPLITS
        }


def assign_splits(foregrounds: list, backgrounds: list, holdout: dict, counts: dict, seed: int) -> Splits:
    """Split the foregrounds (by photo, per source) and the backgrounds with ``holdout``; a split
    with composites to make but no foreground or no background is a :class:`DataError`."""
    rng = np.random.default_rng(seed)
    fg_pools = split_pool(
        foregrounds, holdout, rng, group=lambda item: item.group, stratum=lambda item: item.source
    )
    bg_pools = split_pool(backgrounds, holdout, rng)
    for split in SPLITS:
        if int(counts.get(split, 0)) and not (fg_pools[split] and bg_pools[split]):
            raise DataError(
                f"split {split!r} got {len(fg_pools[split])} foregrounds and {len(bg_pools[split])} "
                f"backgrounds: add data, lower data.build.holdout or set data.build.counts.{split}=0 "
                "(one foreground and one background of each source always stay in train)"
            )
    return Splits(fg_pools, bg_pools)
