"""The input sizes a net takes, for every architecture: the U-Nets' poolings need sides divisible by
2 ** (their count); the fast nets resize internally and take any size."""

from __future__ import annotations

import keras
from keras import layers

from matting.errors import ConfigError


def size_multiple(model: keras.Model) -> int:
    """Height and width fed to ``model`` must be multiples of this: 2 ** (number of poolings), 1 for
    a net without poolings."""
    return 2 ** sum(isinstance(layer, layers.MaxPooling2D) for layer in model.layers)


def check_input_size(model: keras.Model, size, key: str) -> None:
    """A :class:`ConfigError` naming ``key`` unless ``size`` suits ``model``."""
    multiple = size_multiple(model)
    if len(size) != 2 or any(int(s) <= 0 or int(s) % multiple for s in size):
        raise ConfigError(
            f"{key} must be two positive multiples of {multiple} for {model.name}, got {list(size)}"
        )
