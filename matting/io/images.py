"""Reading image files: uint8 RGB / uint8 alpha in, clear errors out; writing PNG files; the record
of the files a folder run skips.

Every reader accepts the files researchers actually have (8- or 16-bit, grayscale with or without
alpha, palette, RGB, RGBA, CMYK JPEG, WebP, AVIF, the first frame of a GIF, what only Pillow reads
(TGA, ICO, PSD), any EXIF orientation, a wrong extension) and raises :class:`DataError` naming the
file when it cannot (empty, truncated, not an image, a format neither OpenCV nor Pillow reads, a
header claiming more than ``max_pixels``, refused before decoding with the size the header claims).
"""

from __future__ import annotations

import csv
import errno
import io
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from matting.errors import DataError
from matting.io.codecs import encode_png
from matting.io.files import write_atomic

# What a folder run lists: the extensions of the formats OpenCV or Pillow read, and those of images
# they cannot (UNREADABLE), so that a folder's SVG or HEIC is a counted skip with its reason, never
# silently left out.
READABLE_EXTENSIONS = (
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".avif",
    ".gif", ".ppm", ".pgm", ".pbm", ".pnm", ".jp2", ".tga", ".ico", ".psd",
)  # fmt: skip
UNREADABLE = {
    **dict.fromkeys((".svg", ".svgz"), "a vector drawing (SVG): rasterise it to PNG first"),
    **dict.fromkeys(
        (".heic", ".heif", ".jxl"),
        "a format that neither OpenCV nor Pillow reads here: convert it to JPEG or PNG",
    ),
    **dict.fromkeys(
        (".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2"),
        "a camera raw file: develop it to JPEG, PNG or TIFF first",
    ),
}
IMAGE_EXTENSIONS = READABLE_EXTENSIONS + tuple(UNREADABLE)
# The formats Pillow may open (what OpenCV cannot decode of the above): none that runs a program.
PILLOW_FORMATS = ("JPEG", "PNG", "BMP", "DIB", "TIFF", "WEBP", "AVIF", "GIF", "PPM", "JPEG2000", "TGA",
                  "ICO", "PSD")  # fmt: skip
# The readers' default guard against decoding a file whose header claims a huge size (10000 x 10000).
MAX_PIXELS = 100_000_000


def list_images(root: str | os.PathLike) -> list[Path]:
    """All image files below ``root``, sorted; a missing or empty folder is a :class:`DataError`."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise DataError(f"{root}: holds no images ({', '.join(READABLE_EXTENSIONS)})")
    return files


def files_by_stem(root: str | os.PathLike) -> dict[str, Path]:
    """The image file of each name below ``root`` (for pairing images with their alphas or masks by
    name): where several share a name, the one of a readable format, the first in
    :data:`READABLE_EXTENSIONS` order (``x.png`` beside ``x.svg`` is ``x.png``)."""
    rank = {ext: i for i, ext in enumerate(READABLE_EXTENSIONS)}
    chosen: dict[str, Path] = {}
    for path in list_images(root):
        best = chosen.get(path.stem)
        if best is None or rank.get(path.suffix.lower(), len(rank)) < rank.get(
            best.suffix.lower(), len(rank)
        ):
            chosen[path.stem] = path
    return chosen


def path_problem(path: Path) -> str:
    """What keeps ``path`` from being read as a file: a folder, a broken link, a loop of links,
    something other than a regular file, or nothing there."""
    if path.is_symlink():
        try:
            path.stat()
        except OSError as error:
            if error.errno == errno.ELOOP:
                return "a loop of symbolic links"
            if error.errno in (errno.ENOENT, errno.ENOTDIR):
                return f"a broken link (to {os.readlink(path)}, which does not exist)"
            return f"a link that cannot be followed ({error.strerror})"
    if path.is_dir():
        return "a folder, not an image file"
    if path.exists():
        return "not a regular file (a device, a socket or a pipe)"
    return "no such file"


def _read_raw(path: Path) -> np.ndarray:
    """The stored pixels as OpenCV gives them (BGR or BGRA, or one channel), from OpenCV or else
    from Pillow (first frame of an animation)."""
    if not path.is_file():
        raise DataError(f"{path}: {path_problem(path)}")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    data = np.fromfile(path, dtype=np.uint8)
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as error:  # OpenCV asserts on sizes over its own limit
        raise DataError(f"{path}: not decodable ({str(error).strip().splitlines()[-1]})") from error
    if image is None or image.size == 0:
        image = _read_with_pillow(path)
    if image is None or image.size == 0:
        known = UNREADABLE.get(path.suffix.lower())
        raise DataError(
            f"{path}: {known or 'not a readable image (corrupt, truncated or unsupported format)'}"
        )
    return image


def _read_with_pillow(path: Path) -> np.ndarray | None:
    """What OpenCV cannot decode, through Pillow: its first frame as OpenCV's channel order, or None."""
    try:
        with Image.open(path, formats=PILLOW_FORMATS) as image:  # never EPS and the like (Ghostscript)
            image.seek(0)
            image.load()
            if image.mode not in ("L", "RGB", "RGBA", "I;16"):
                image = image.convert(
                    "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
                )
            pixels = np.asarray(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    if pixels.ndim == 3:  # Pillow's RGB(A) as OpenCV's BGR(A)
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    return pixels


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
    7: lambda x: np.swapaxes(x[::-1, ::-1], 0, 1),
    8: lambda x: np.rot90(x, 1),
}


def _header(path: Path) -> tuple[tuple[int, int] | None, int]:
    """(width, height) and the EXIF orientation from the file header alone, never decoding pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=PILLOW_FORMATS) as image:
                return image.size, _orientation(image)
    except Image.DecompressionBombError:  # PIL refused the size it read: read it again, unchecked
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with Image.open(path, formats=PILLOW_FORMATS) as image:
                return image.size, 1
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    except (OSError, ValueError, SyntaxError):
        return None, 1  # not an image PIL knows: let the decoder give the error


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation tag (1: upright). A PNG's is read only from an ``eXIf`` chunk before
    the pixels: PIL would decode the whole image to look after them."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    return int(image.getexif().get(0x0112, 1))


def _check_size(path: Path, size: tuple[int, int] | None, max_pixels: int | None) -> None:
    if max_pixels and size and size[0] * size[1] > max_pixels:
        raise DataError(
            f"{path}: {size[0]}x{size[1]} is {_pixels(size[0] * size[1])}, over the limit of "
            f"{_pixels(max_pixels)} (max_pixels): downscale it first or raise the limit"
        )


def _pixels(count: int) -> str:
    return f"{count / 1e6:.0f} MP" if count >= 10_000_000 else f"{count:,} pixels"


def read_image(path: str | os.PathLike, *, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """An image file as uint8 RGB ``[H, W, 3]``, upright as its EXIF orientation says; grayscale is
    replicated, an alpha channel dropped, 16-bit scaled, a palette expanded. ``max_pixels`` refuses
    larger images before decoding them (a guard against exhausting memory; the size in the message
    is the one the header claims)."""
    path = Path(path)
    size, orientation = _header(path) if path.is_file() else (None, 1)
    _check_size(path, size, max_pixels)
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


def read_alpha(path: str | os.PathLike, *, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """An alpha matte or mask file as uint8 ``[H, W]``, as stored (no EXIF orientation: mattes are
    written by tools, upright).

    A single-channel file is taken as it is; an RGBA file gives its alpha channel (or, where that is
    constant and the colour channels are an equal, varying gray, that gray: a mask drawn in an
    editor and saved opaque); an RGB file whose channels are equal gives that channel. Anything else
    is a :class:`DataError`; so is a file over ``max_pixels``, refused before decoding.
    """
    path = Path(path)
    _check_size(path, _header(path)[0] if path.is_file() else None, max_pixels)
    image = _to_8bit(_read_raw(path), path)
    if image.ndim == 2:
        return image
    gray = np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 1], image[:, :, 2])
    if image.shape[2] == 4:
        alpha = image[:, :, 3]
        if gray and alpha.min() == alpha.max() and image[:, :, 0].min() != image[:, :, 0].max():
            return np.ascontiguousarray(image[:, :, 0])  # an opaque RGBA saved from a drawing: its gray
        return np.ascontiguousarray(alpha)
    if image.shape[2] == 3 and gray:
        return np.ascontiguousarray(image[:, :, 0])
    raise DataError(f"{path}: an alpha matte must be single-channel, RGBA or gray RGB")


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Save uint8 RGB, RGBA or single-channel ``image`` as a PNG file, atomically."""
    write_atomic(path, encode_png(image))


# ---------------------------------------------------------------------------------------------------
# Skipped files: what a folder run (predict, evaluate, the builder) records of a file it could not use
# ---------------------------------------------------------------------------------------------------

SKIPPED_FILE = "skipped.csv"


def skip_entry(path: str | os.PathLike, error: Exception, stage: str = "") -> dict:
    """``{"path", "reason"}`` for a file that failed at ``stage``: a :class:`DataError`'s message
    (it names the file), otherwise the stage and the exception."""
    if isinstance(error, DataError):
        return {"path": str(path), "reason": str(error)}
    return {"path": str(path), "reason": f"{path}: {stage} failed ({type(error).__name__}: {error})"}


def write_skipped(folder: str | os.PathLike, skipped: list[dict]) -> Path:
    """``folder/skipped.csv`` (path, reason), atomically; an old one is removed when none was skipped."""
    path = Path(folder) / SKIPPED_FILE
    if not skipped:
        path.unlink(missing_ok=True)
        return path
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["path", "reason"], lineterminator="\n")
    writer.writeheader()
    writer.writerows({"path": s["path"], "reason": s["reason"]} for s in skipped)
    write_atomic(path, text.getvalue().encode())
    return path


def skipped_line(done: int, verb: str, skipped: list[dict], listing: str | os.PathLike) -> str:
    """The last line of a folder run: ``N written, K skipped (see skipped.csv)``."""
    return f"{done} {verb}, {len(skipped)} skipped" + (f" (see {listing})" if skipped else "")
