"""What the evaluation scores: a built split, or image + alpha (+ trimap) files paired by name, as
uint8 sample dicts (``id``, ``image`` [H, W, 3], ``alpha`` [H, W], optional ``trimap`` [H, W])."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from matting.data.features import ALPHA, IMAGE, SAMPLE_ID
from matting.data.pipeline import read_records
from matting.errors import DataError
from matting.io.codecs import to_uint8
from matting.io.images import files_by_stem, list_images, read_alpha, read_image, skip_entry

TRIMAP = "trimap"


def _pair_by_stem(folder: Path, stems: list[str]) -> dict[str, Path]:
    """The image file of ``folder`` named like each of ``stems`` (whatever its extension), where any."""
    files = files_by_stem(folder)
    return {stem: files[stem] for stem in stems if stem in files}


def load_folder_arrays(
    images: str,
    alphas: str,
    trimaps: str | None = None,
    max_images: int | None = None,
    stems: Collection[str] | None = None,
) -> tuple[list[dict], list[dict]]:
    """Image + alpha (+ trimap) files paired by basename, the layout of alphamatting.com, PPM-100,
    P3M-500 and AM-2k (``image/`` + ``alpha/``, ``original/`` + ``mask/``, ...).

    Returns the samples (uint8 ``image`` [H, W, 3], ``alpha`` [H, W], optional ``trimap``) and the
    skipped files with reasons: an image without an alpha, any file that cannot be read, an alpha or
    trimap of another size than its image (the reason names both files and their sizes). With
    ``stems``, only the images of those names (e.g. the held-out photos of
    :func:`matting.evaluation.holdout.select_photos`), before ``max_images``; the others are
    neither loaded nor listed as skipped. A missing folder, or no usable pair at all, is a
    :class:`DataError`.
    """
    image_files = list_images(images)
    if stems is not None:
        wanted = set(stems)
        image_files = [p for p in image_files if p.stem in wanted]
    names = [p.stem for p in image_files]
    alpha_files = _pair_by_stem(Path(alphas), names)
    trimap_files = _pair_by_stem(Path(trimaps), names) if trimaps else {}
    samples, skipped = [], []
    for path in image_files:
        if path.stem not in alpha_files:
            skipped.append({"path": str(path), "reason": f"{path}: no alpha named {path.stem}.* in {alphas}"})
            continue
        try:
            sample = _load_sample(path, alpha_files[path.stem], trimap_files.get(path.stem))
        except DataError as error:
            skipped.append(skip_entry(path, error))
            continue
        samples.append(sample)
        if max_images and len(samples) >= max_images:
            break
    if not samples:
        among = "" if stems is None else f" among the {len(image_files)} selected"
        raise DataError(f"{images}: no image with a readable alpha in {alphas}{among}")
    return samples, skipped


def _load_sample(image: Path, alpha: Path, trimap: Path | None) -> dict:
    """One sample; a file that cannot be read or is not the image's size is a :class:`DataError`."""
    sample = {"id": image.stem, IMAGE: read_image(image), ALPHA: read_alpha(alpha)}
    if trimap is not None:
        sample[TRIMAP] = read_alpha(trimap)
    height, width = sample[IMAGE].shape[:2]
    for key, path in ((ALPHA, alpha), (TRIMAP, trimap)):
        if key in sample and sample[key].shape != (height, width):
            raise DataError(
                f"{path}: {key} is {sample[key].shape[1]}x{sample[key].shape[0]} but {image} is "
                f"{width}x{height} (as displayed)"
            )
    return sample


def load_split_arrays(files: list[str], max_images: int | None = None) -> list[dict]:
    """The records of ``files`` as uint8 numpy arrays: ``image`` [H, W, 3], ``alpha`` [H, W]."""
    samples = []
    for example in read_records(files).as_numpy_iterator():
        samples.append(
            {
                "id": example[SAMPLE_ID].decode(),
                IMAGE: to_uint8(example[IMAGE]),
                ALPHA: to_uint8(example[ALPHA][..., 0]),
            }
        )
        if max_images and len(samples) >= max_images:
            break
    return samples
