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
from matting.io.images import (
    READABLE_EXTENSIONS,
    list_images,
    read_alpha,
    read_image,
    skip_entry,
    write_png,
)

# How far a given mask's aspect may stray from its image's before the pair is refused as a mismatch
# (a mask saved at another resolution keeps its image's aspect to within rounding).
MASK_ASPECT_TOLERANCE = 0.02


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


def mask_files(mask: str, files: list[Path]) -> dict[Path, Path | str]:
    """The given mask of each input file: ``mask`` itself for a single input file, or the file of the
    same stem in the folder ``mask`` (any image extension; of several, the readable one). Where
    several readable masks share an input's name the input maps to the reason (a str) it is skipped;
    inputs without a mask are left out (a counted skip in :func:`predict_files`)."""
    source = Path(mask)
    if source.is_file():
        if len(files) != 1:
            raise DataError(f"mask={source} is one file for {len(files)} inputs: give a folder of masks, "
                            "one per image, named as the images")  # fmt: skip
        return {files[0]: source}
    if not source.is_dir():
        raise DataError(f"mask={source}: no such file or folder")
    named: dict[str, list[Path]] = {}
    for path in list_images(source):
        named.setdefault(path.stem, []).append(path)
    masks: dict[Path, Path | str] = {}
    for path in files:
        found = named.get(path.stem, [])
        readable = [p for p in found if p.suffix.lower() in READABLE_EXTENSIONS]
        if len(readable) > 1:
            masks[path] = f"{path}: several masks named {path.stem}.*: {', '.join(map(str, readable))}"
        elif found:
            masks[path] = (readable or found)[0]  # an unreadable one alone: skipped with its reason
    return masks


def read_mask(path: str | Path, image_shape: tuple[int, ...], *, max_pixels: int | None = 50_000_000):
    """A person mask file as float32 ``[h, w]`` in [0, 1] (soft masks kept soft), checked against the
    size of its image: any resolution of the image's aspect."""
    mask = read_alpha(path, max_pixels=max_pixels).astype(np.float32) / 255.0
    if not mask_fits(mask.shape, image_shape):
        (h, w), (height, width) = mask.shape, image_shape[:2]
        raise DataError(f"{path}: a {w}x{h} mask does not fit its {width}x{height} image (another aspect)")
    return mask


def mask_fits(mask_shape: tuple[int, ...], image_shape: tuple[int, ...]) -> bool:
    """Whether a mask of ``mask_shape`` can be its image's: any resolution of the image's aspect."""
    (h, w), (height, width) = mask_shape[:2], image_shape[:2]
    return abs((w / h) / (width / height) - 1) <= MASK_ASPECT_TOLERANCE


def predict_alpha(pipeline: MattingPipeline, image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """One uint8 RGB image -> its alpha ``[H, W]`` in [0, 1]; with ``mask`` (``[h, w]`` in [0, 1]) the
    refinement alone runs from it, the coarse net skipped."""
    return pipeline.predict(image) if mask is None else pipeline.refine(image, mask)


def foreground_colours(image: np.ndarray, alpha: np.ndarray, estimate: bool = True) -> np.ndarray:
    """The RGB ``[H, W, 3]`` in [0, 1] to write under ``alpha``: the estimated foreground (see the
    module's docstring), or the image itself."""
    return estimate_foreground(image, alpha) if estimate else image / 255.0


def predict_files(
    pipeline: MattingPipeline,
    files: list[Path],
    out_dir: str,
    *,
    background=None,
    masks: dict[Path, Path] | None = None,
    estimate_foreground_colours: bool = True,
    max_pixels: int | None = 50_000_000,
) -> dict:
    """Write ``{stem}_alpha.png``, ``{stem}_rgba.png`` and, with ``background``, ``{stem}_on_bg.png``
    for every file; returns ``written`` (a count) and ``skipped`` (path and reason of each file).
    With ``masks`` (see :func:`mask_files`) each file is refined from its own mask; a file without
    one is skipped.

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
        if masks is not None and not isinstance(masks.get(path), Path):
            reason = masks.get(path) or f"{path}: no mask named {path.stem}.* (mask=...)"
            skipped.append({"path": str(path), "reason": reason})
            continue
        stage = "decoding"
        try:
            image = read_image(path, max_pixels=max_pixels)
            mask = None if masks is None else read_mask(masks[path], image.shape, max_pixels=max_pixels)
            shown = f"the {image.shape[1]}x{image.shape[0]} image"
            stage = f"matting {shown}"
            alpha = predict_alpha(pipeline, image, mask)
            stage = f"foreground estimation of {shown}"
            fg = foreground_colours(image, alpha, estimate_foreground_colours)
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
