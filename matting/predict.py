"""Matting files and folders: RGBA and alpha PNGs out, optionally composited on a new background.

The RGB of the written RGBA is the *estimated foreground* (pymatting's ``estimate_foreground_ml``)
rather than the input photo, so that placing it on any background shows no colour halo from the
old one; ``estimate_foreground=False`` keeps the input RGB (as ModelScope's ``output_png`` does).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from matting.data.composite import composite, estimate_foreground
from matting.errors import DataError
from matting.inference.pipeline import MattingPipeline
from matting.io.codecs import to_uint8
from matting.io.images import list_images, read_image, skip_entry, write_png


def background_like(background, shape: tuple[int, int]) -> np.ndarray:
    """A float ``[H, W, 3]`` background in [0, 1] from an RGB colour (0..255), an image path or a
    uint8 RGB image (resized to ``shape``)."""
    if isinstance(background, str | Path):
        background = read_image(background)
    if isinstance(background, np.ndarray) and background.ndim == 3:
        return cv2.resize(background, (shape[1], shape[0]), interpolation=cv2.INTER_AREA) / 255.0
    colour = np.asarray(background, np.float64)
    if colour.shape != (3,) or colour.min() < 0 or colour.max() > 255:
        raise DataError(f"background must be an image path or an RGB colour in 0..255, got {background!r}")
    return np.broadcast_to(colour / 255.0, (*shape, 3))


def input_files(path: str) -> list[Path]:
    """``path`` itself when it is a file, or every image below it when it is a folder."""
    source = Path(path)
    if source.is_file():
        return [source]
    if source.is_dir():
        return list_images(source)
    raise DataError(f"{source}: no such file or folder")


def predict_files(
    pipeline: MattingPipeline,
    files: list[Path],
    out_dir: str,
    *,
    background=None,
    estimate_foreground_colours: bool = True,
    max_pixels: int | None = 50_000_000,
) -> dict:
    """Write ``{stem}_alpha.png``, ``{stem}_rgba.png`` and, with ``background``, ``{stem}_on_bg.png``
    for every file; returns ``written`` (a count) and ``skipped`` (path and reason of each file).

    A file that fails at any step (decode, matting, foreground estimation, a write) is skipped and
    the run goes on; what was written for it stays. A background that cannot be read and an
    ``out_dir`` that cannot be made are :class:`DataError` before any file is read.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"{out}: cannot create the output folder ({error.strerror})") from error
    if background is not None:
        background = read_image(background) if isinstance(background, str | Path) else background
        background_like(background, (1, 1))  # a bad colour fails now, not once per file
    written, skipped, outputs = 0, [], {}
    for path in tqdm(files, desc="predict", unit="img"):
        if path.stem in outputs:  # a.jpg beside a.png, or two folders' a.jpg
            reason = f"{path}: its outputs would overwrite those of {outputs[path.stem]} ({path.stem}_*.png)"
            skipped.append({"path": str(path), "reason": reason})
            continue
        outputs[path.stem] = path
        stage = "decoding"
        try:
            image = read_image(path, max_pixels=max_pixels)
            shown = f"the {image.shape[1]}x{image.shape[0]} image"
            stage = f"matting {shown}"
            alpha = pipeline.predict(image)
            stage = f"foreground estimation of {shown}"
            fg = estimate_foreground(image, alpha) if estimate_foreground_colours else image / 255.0
            stage = "writing"
            alpha_u8 = to_uint8(alpha)
            write_png(out / f"{path.stem}_alpha.png", alpha_u8)
            write_png(
                out / f"{path.stem}_rgba.png", np.concatenate([to_uint8(fg), alpha_u8[..., None]], axis=-1)
            )
            if background is not None:
                bg = background_like(background, image.shape[:2])
                write_png(out / f"{path.stem}_on_bg.png", to_uint8(composite(fg, bg, alpha)))
        except Exception as error:  # one file never ends the run: its failure is a counted skip
            skipped.append(skip_entry(path, error, stage))
            continue
        written += 1
    return {"written": written, "skipped": skipped}
