"""Reading image files: uint8 RGB / uint8 alpha in, clear errors out; writing PNG files.

Every reader accepts the files researchers actually have (8- or 16-bit, grayscale, RGB, RGBA, any
extension OpenCV reads) and raises :class:`DataError` naming the file when it cannot.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from matting.errors import DataError
from matting.io.codecs import encode_png
from matting.io.files import write_atomic

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def list_images(root: str | os.PathLike) -> list[Path]:
    """All image files below ``root``, sorted; a missing or empty folder is a :class:`DataError`."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise DataError(f"{root}: holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def _read_raw(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise DataError(f"{path}: not a readable image (corrupt, truncated or unsupported format)")
    return image


def _to_8bit(image: np.ndarray, path: Path) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    raise DataError(f"{path}: unsupported pixel type {image.dtype} (expected 8- or 16-bit)")


# EXIF orientation tag -> the operations that bring the pixels upright (PIL's exif_transpose table).
_ORIENTATION = {
    2: lambda x: x[:, ::-1],
    3: lambda x: x[::-1, ::-1],
    4: lambda x: x[::-1],
    5: lambda x: np.swapaxes(x, 0, 1),
    6: lambda x: np.rot90(x, -1),
    7: lambda x: np.rot90(x, 1)[::-1],
    8: lambda x: np.rot90(x, 1),
}


def _header(path: Path) -> tuple[tuple[int, int] | None, int]:
    """(width, height) and the EXIF orientation from the file header alone, without decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size, int(image.getexif().get(0x0112, 1))
    except Image.DecompressionBombError:
        limit = 2 * Image.MAX_IMAGE_PIXELS  # PIL refuses to open above this
        return (limit, 1), 1
    except (OSError, ValueError):
        return None, 1  # not an image PIL knows: let the decoder give the error


def read_image(path: str | os.PathLike, *, max_pixels: int | None = None) -> np.ndarray:
    """An image file as uint8 RGB ``[H, W, 3]``, upright as its EXIF orientation says; grayscale is
    replicated, an alpha channel dropped, 16-bit scaled. ``max_pixels`` refuses larger images before
    decoding them (a guard against exhausting memory)."""
    path = Path(path)
    size, orientation = _header(path) if path.is_file() else (None, 1)
    if max_pixels and size and size[0] * size[1] > max_pixels:
        raise DataError(
            f"{path}: {size[0]}x{size[1]} is {size[0] * size[1] / 1e6:.0f} MP, over the limit of "
            f"{max_pixels / 1e6:.0f} MP (max_pixels): downscale it first or raise the limit"
        )
    image = _to_8bit(_read_raw(path), path)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    elif image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    else:
        raise DataError(f"{path}: {image.shape[2]} channels (expected 1, 3 or 4)")
    if orientation in _ORIENTATION:
        image = np.ascontiguousarray(_ORIENTATION[orientation](image))
    return image


def read_alpha(path: str | os.PathLike) -> np.ndarray:
    """An alpha matte or mask file as uint8 ``[H, W]``.

    A single-channel file is taken as it is; an RGBA file gives its alpha channel; an RGB file whose
    channels are equal gives that channel. Anything else is a :class:`DataError`.
    """
    path = Path(path)
    image = _to_8bit(_read_raw(path), path)
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, 3])
    gray = np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 1], image[:, :, 2])
    if image.shape[2] == 3 and gray:
        return np.ascontiguousarray(image[:, :, 0])
    raise DataError(f"{path}: an alpha matte must be single-channel, RGBA or gray RGB")


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Save uint8 RGB, RGBA or single-channel ``image`` as a PNG file, atomically."""
    write_atomic(path, encode_png(image))
