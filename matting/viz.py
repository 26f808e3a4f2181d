"""Picture grids for looking at data and predictions (uint8 PNGs, no plotting library needed)."""

from __future__ import annotations

import cv2
import numpy as np

from matting.io.codecs import to_uint8
from matting.io.images import write_png


def to_rgb_uint8(x: np.ndarray) -> np.ndarray:
    """float [H, W] / [H, W, 1] / [H, W, 3] in [0, 1], or uint8, -> uint8 RGB [H, W, 3]."""
    x = np.asarray(x)
    if x.dtype != np.uint8:
        x = to_uint8(x)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[..., 0]
    return np.repeat(x[..., None], 3, axis=2) if x.ndim == 2 else x


def error_map(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """|pred - gt| of two [H, W] alphas in [0, 1] as a uint8 RGB heat map (black = no error)."""
    error = to_uint8(np.abs(pred - gt))
    return cv2.cvtColor(cv2.applyColorMap(error, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def caption(tile: np.ndarray, text: str) -> np.ndarray:
    """``tile`` (uint8 RGB) with ``text`` written in its top left corner, one line per ``\\n``,
    white on a black box (legible on any picture)."""
    tile = tile.copy()
    lines = text.splitlines()
    font, scale, step = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 14
    width = max(cv2.getTextSize(line, font, scale, 1)[0][0] for line in lines) + 6
    tile[: step * len(lines) + 4, :width] = 0
    for i, line in enumerate(lines):
        cv2.putText(tile, line, (3, step * (i + 1) - 2), font, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def save_grid(
    path: str,
    rows: list[list[np.ndarray]],
    *,
    tile_height: int = 192,
    gap: int = 4,
    captions: list[str] | None = None,
) -> None:
    """Write ``rows`` of images (any of the forms :func:`to_rgb_uint8` takes) as one PNG grid;
    ``captions`` (one a row) are written on each row's first tile (see :func:`caption`)."""
    tiles = []
    for r, row in enumerate(rows):
        resized = []
        for image in row:
            image = to_rgb_uint8(image)
            width = max(1, round(image.shape[1] * tile_height / image.shape[0]))
            resized.append(cv2.resize(image, (width, tile_height), interpolation=cv2.INTER_AREA))
        if captions and captions[r]:
            resized[0] = caption(resized[0], captions[r])
        tiles.append(resized)
    width = max(sum(t.shape[1] for t in row) + gap * (len(row) - 1) for row in tiles)
    canvas = np.full((len(tiles) * (tile_height + gap) - gap, width, 3), 255, np.uint8)
    for r, row in enumerate(tiles):
        x = 0
        for tile in row:
            y = r * (tile_height + gap)
            canvas[y : y + tile_height, x : x + tile.shape[1]] = tile
            x += tile.shape[1] + gap
    write_png(path, canvas)
