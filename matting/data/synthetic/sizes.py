"""The ``(height, width)`` image size type and its validation."""

from __future__ import annotations

from numbers import Integral
from typing import Any

Size = tuple[int, int]

MIN_SIZE = 32


def check_size(value: Any, name: str) -> Size:
    """``value`` as an ``(height, width)`` int pair; ValueError unless both are integers >= MIN_SIZE."""
    try:
        height, width = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (height, width) pair, got {value!r}") from None
    for side in (height, width):
        if isinstance(side, bool) or not isinstance(side, Integral) or side < MIN_SIZE:
            raise ValueError(f"{name} must be (height, width) with integers >= {MIN_SIZE}, got {value!r}")
    return int(height), int(width)
