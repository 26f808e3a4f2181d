"""Foreground sources and background folders, as config entries.

A foreground source lists :class:`Foreground` items; each loads as ``(fg, alpha)``: uint8 RGB
``[H, W, 3]`` and uint8 alpha ``[H, W]``. Sources are built from config entries, one per source:

``{"type": "matte_folder", "root": R, "fg_dir": "fg", "alpha_dir": "alpha"}``
    An alpha-matte dataset: Adobe Composition-1k, AIM-500, Distinctions-646 (``fg/`` + ``alpha/``);
    P3M-10k and AM-2k (``fg_dir: original``, ``alpha_dir: mask``, with ``estimate_foreground: true``
    because only the photo exists); or any image + alpha folders with matching basenames.
``{"type": "mask_folder", "root": R, "image_dir": "image", "mask_dir": "mask"}``
    Photos with binary person masks (``../shared/data/portraits``): coarse-quality alpha.
``{"type": "coco", "annotations": "instances_train2017.json", "images": "train2017/"}``
    COCO person instances (polygons or RLE), read with pycocotools: coarse-quality alpha.

``uses`` (matte and mask folders): ``[composite]`` (the default) pastes each item on backgrounds,
``[photo]`` keeps it as the photo it is, with its own background (:meth:`Foreground.load_photo`),
``[composite, photo]`` both; ``data.build.photo_share`` sets how many records are photos. A photo
needs its whole frame labelled, so COCO persons are composites only: a COCO photo's other persons
(crowds, the small ones the filters drop) have no mask of their own here.

Items carry a ``group``: items of one group (the persons of one COCO photo) go to one split; an item
used both ways is one item, so its composites and its photo records are in one split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from matting.data.composite import estimate_foreground
from matting.errors import ConfigError, DataError
from matting.io.codecs import to_uint8
from matting.io.images import files_by_stem, list_images, read_alpha, read_image

# A foreground is scaled to most of the canvas height: below this many pixels a side (of the file, or
# of the box where its alpha is not 0) it would be a blur, and pymatting cannot estimate 1x1.
MIN_FOREGROUND_SIDE = 8
# What an item is used as: a foreground pasted on backgrounds, or a photo kept as it is.
COMPOSITE, PHOTO = "composite", "photo"
USES = (COMPOSITE, PHOTO)


def soften(mask: np.ndarray, feather: float) -> np.ndarray:
    """A binary uint8 mask with a soft edge: Gaussian blur of ``feather`` px (0: unchanged)."""
    if feather <= 0:
        return mask
    return cv2.GaussianBlur(mask, (0, 0), feather)  # uint8 in, uint8 out (fixed-point, rounded)


@dataclass(frozen=True)
class Foreground:
    """One person (or object) foreground: an image and its alpha matte on disk."""

    source: str
    key: str  # unique within its source
    fg_path: Path
    alpha_path: Path
    coarse_quality: bool = False  # alpha is only a coarse mask (COCO polygons, binary masks)
    estimate_foreground: bool = False  # fg_path is the photo: estimate the foreground colours
    feather: float = 0.0  # soft edge (px) for a binary mask
    uses: tuple[str, ...] = (COMPOSITE,)  # composite foreground, photo as it is, or both

    @property
    def id(self) -> str:
        return f"{self.source}:{self.key}"

    @property
    def group(self) -> str:
        return self.id

    def _check(self, fg: np.ndarray, alpha: np.ndarray) -> None:
        if fg.shape[:2] != alpha.shape:
            raise DataError(
                f"{self.alpha_path}: alpha is {alpha.shape[1]}x{alpha.shape[0]} but "
                f"{self.fg_path.name} is {fg.shape[1]}x{fg.shape[0]}"
            )
        if not alpha.any():
            raise DataError(f"{self.alpha_path}: the alpha is 0 everywhere (no foreground)")
        if min(fg.shape[:2]) < MIN_FOREGROUND_SIDE:
            raise DataError(
                f"{self.fg_path}: {fg.shape[1]}x{fg.shape[0]} is too small for a foreground "
                f"(at least {MIN_FOREGROUND_SIDE} px a side)"
            )
        _, _, w, h = cv2.boundingRect(alpha)
        if min(w, h) < MIN_FOREGROUND_SIDE:
            raise DataError(
                f"{self.alpha_path}: the foreground (alpha > 0) spans only {w}x{h} px "
                f"(at least {MIN_FOREGROUND_SIDE} px a side)"
            )

    def validate(self) -> None:
        """Raise the :class:`DataError` that :meth:`load` would, without its processing (soft
        edges, foreground estimation): what the builder checks before planning the splits."""
        self._check(read_image(self.fg_path), read_alpha(self.alpha_path))

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """``(fg, alpha)`` as uint8 arrays, cut to the box where the (softened) alpha is not 0: the
        rest is invisible in any composite, and the soft edge and the foreground estimation cost
        less on the box. A size mismatch, an empty alpha or a foreground under
        ``MIN_FOREGROUND_SIDE`` is a :class:`DataError`."""
        fg, alpha = read_image(self.fg_path), read_alpha(self.alpha_path)
        self._check(fg, alpha)
        x, y, w, h = cv2.boundingRect(alpha)
        pad = math.ceil(4 * self.feather)  # the reach of the soft edge
        box = slice(max(0, y - pad), y + h + pad), slice(max(0, x - pad), x + w + pad)
        fg, alpha = fg[box], soften(alpha[box], self.feather)
        if self.estimate_foreground:
            fg = to_uint8(estimate_foreground(fg, alpha / 255.0))
        return fg, alpha

    def load_photo(self) -> tuple[np.ndarray, np.ndarray]:
        """``(photo, alpha)`` as uint8 arrays, the whole frame: the photo as it is, its own
        background included (no foreground estimation), and its alpha softened as :meth:`load`
        does. The same :class:`DataError` as :meth:`load` for the same files."""
        photo, alpha = read_image(self.fg_path), read_alpha(self.alpha_path)
        self._check(photo, alpha)
        return photo, soften(alpha, self.feather)


@dataclass(frozen=True)
class CocoForeground(Foreground):
    """A COCO person instance: the photo cropped around the person, the instance mask as alpha."""

    segmentation: object = None  # polygons or RLE, as in the annotation file
    bbox: tuple = ()  # x, y, width, height
    image_size: tuple = ()  # height, width, from the annotation file
    margin: float = 0.1  # cut kept around the box, as a fraction of its size: room for the soft edge
    image_key: str = field(default="")

    @property
    def group(self) -> str:
        return f"{self.source}:{self.image_key}"

    def validate(self) -> None:
        self.load()  # decoding the segmentation is the check

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        from pycocotools import mask as mask_utils

        image = read_image(self.fg_path)
        height, width = self.image_size
        if image.shape[:2] != (height, width):
            raise DataError(
                f"{self.fg_path}: image is {image.shape[1]}x{image.shape[0]} but the annotation "
                f"says {width}x{height}"
            )
        segmentation = self.segmentation
        try:
            if isinstance(segmentation, list):  # polygons
                _check_polygons(segmentation)
                rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
            elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
                rle = mask_utils.frPyObjects(segmentation, height, width)  # uncompressed RLE
            else:
                rle = segmentation  # compressed RLE
            mask = mask_utils.decode(rle).astype(np.uint8) * 255
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
            raise DataError(
                f"{self.fg_path}: instance {self.key} has an invalid segmentation ({error})"
            ) from error
        if not mask.any():
            raise DataError(f"{self.fg_path}: instance {self.key} has an empty segmentation")
        x, y, w, h = self.bbox
        pad_x, pad_y = w * self.margin, h * self.margin
        x0, y0 = max(0, int(x - pad_x)), max(0, int(y - pad_y))
        x1, y1 = min(width, int(np.ceil(x + w + pad_x))), min(height, int(np.ceil(y + h + pad_y)))
        return image[y0:y1, x0:x1], soften(mask[y0:y1, x0:x1], self.feather)


def _check_polygons(polygons: list) -> None:
    """pycocotools raises a bare ``Exception`` (or reads a box) for polygons of under 3 points."""
    for polygon in polygons:
        if not isinstance(polygon, list) or len(polygon) < 6 or len(polygon) % 2:
            size = len(polygon) if isinstance(polygon, list) else type(polygon).__name__
            raise ValueError(f"a polygon needs an even number (at least 6) of coordinates, got {size}")


# ---------------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------------


def _paired(root: str, first: str, second: str) -> tuple[list[tuple[Path, Path]], list[dict]]:
    """Files of ``root/first`` paired by basename with ``root/second``, and the unpaired skips."""
    firsts = list_images(Path(root) / first)
    seconds = files_by_stem(Path(root) / second)
    pairs, skipped = [], []
    for path in firsts:
        if path.stem in seconds:
            pairs.append((path, seconds[path.stem]))
        else:
            skipped.append({"path": str(path), "reason": f"no {second}/{path.stem}.* beside it (unpaired)"})
    return pairs, skipped


def _uses(uses, name: str) -> tuple[str, ...]:
    """A source entry's ``uses`` as a tuple in a fixed order; a clear error for anything else."""
    if isinstance(uses, str) or not uses or not set(uses) <= set(USES):
        raise ConfigError(
            f"data.build.sources entry {name!r}: uses must be a non-empty list of {list(USES)}, got {uses!r}"
        )
    return tuple(use for use in USES if use in uses)


def matte_folder(
    root: str,
    *,
    name: str = "matte",
    fg_dir: str = "fg",
    alpha_dir: str = "alpha",
    estimate_foreground: bool = False,
    uses=(COMPOSITE,),
) -> tuple[list[Foreground], list[dict]]:
    """Foregrounds of an alpha-matte folder: ``root/fg_dir/X.*`` paired with ``root/alpha_dir/X.*``.
    With ``estimate_foreground`` the first folder holds photos, and the foreground colours are
    estimated from photo and alpha (pymatting), so composites show no halo of the old background.
    ``uses`` containing ``photo`` suits only that layout: a ``fg/`` folder has no real background."""
    uses = _uses(uses, name)
    pairs, skipped = _paired(root, fg_dir, alpha_dir)
    items = [
        Foreground(name, fg.stem, fg, alpha, estimate_foreground=estimate_foreground, uses=uses)
        for fg, alpha in pairs
    ]
    return items, skipped


def mask_folder(
    root: str,
    *,
    name: str = "masks",
    image_dir: str = "image",
    mask_dir: str = "mask",
    feather: float = 1.0,
    uses=(COMPOSITE,),
) -> tuple[list[Foreground], list[dict]]:
    """Photos with binary person masks of matching basenames; the alpha is the mask with a
    ``feather`` px soft edge, flagged coarse-quality. ``uses``: composite foregrounds, photos as
    they are, or both (see the module docstring)."""
    uses = _uses(uses, name)
    pairs, skipped = _paired(root, image_dir, mask_dir)
    items = [
        Foreground(name, image.stem, image, mask, coarse_quality=True, feather=feather, uses=uses)
        for image, mask in pairs
    ]
    return items, skipped


def coco(
    annotations: str,
    images: str,
    *,
    name: str = "coco",
    min_area: float = 0.02,
    min_box: int = 64,
    max_persons: int = 3,
    single_person_only: bool = False,
    include_crowd: bool = False,
    margin: float = 0.1,
    feather: float = 1.0,
) -> tuple[list[Foreground], list[dict]]:
    """COCO person instances as foregrounds.

    Filters: ``include_crowd`` (iscrowd annotations), ``min_area`` (mask area as a fraction of the
    image), ``min_box`` (the shorter side of the box, px), ``max_persons`` per image (images with
    more persons are skipped), ``single_person_only``. Images missing on disk are skipped and listed.
    """
    path = Path(annotations)
    api = _load_coco(annotations)
    person_ids = api.getCatIds(catNms=["person"])
    if not person_ids:
        raise DataError(f"{path}: has no 'person' category")
    items, skipped = [], []
    for image_id in sorted(api.getImgIds(catIds=person_ids)):
        info = api.loadImgs(image_id)[0]
        lacking = [key for key in ("file_name", "height", "width") if key not in info]
        if lacking:
            skipped.append({"path": f"{path}#image{image_id}", "reason": f"image entry lacks {lacking}"})
            continue
        file = Path(images) / info["file_name"]
        anns = api.loadAnns(api.getAnnIds(imgIds=image_id, catIds=person_ids, iscrowd=None))
        persons = [a for a in anns if include_crowd or not a.get("iscrowd", 0)]
        if not file.is_file():
            skipped.append({"path": str(file), "reason": "image listed in the annotations is missing"})
            continue
        if len(persons) > max_persons or (single_person_only and len(persons) > 1):
            skipped.append(
                {"path": str(file), "reason": f"{len(persons)} persons (max_persons={max_persons})"}
            )
            continue
        for ann in persons:
            area = ann.get("area", 0) / float(info["height"] * info["width"])
            box = ann.get("bbox") or [0, 0, 0, 0]
            if not ann.get("segmentation"):
                skipped.append({"path": f"{file}#{ann['id']}", "reason": "empty segmentation"})
            elif area < min_area or min(box[2], box[3]) < min_box:
                skipped.append({"path": f"{file}#{ann['id']}", "reason": "person too small"})
            else:
                items.append(
                    CocoForeground(
                        name, f"{image_id}_{ann['id']}", file, path, coarse_quality=True, feather=feather,
                        segmentation=ann["segmentation"], bbox=tuple(box),
                        image_size=(info["height"], info["width"]), margin=margin, image_key=str(image_id),
                    )
                )  # fmt: skip
    return items, skipped


def _load_coco(annotations: str):
    """A pycocotools ``COCO`` index of ``annotations``, quietly; a clear error naming the file."""
    import contextlib
    import io

    from pycocotools.coco import COCO

    path = Path(annotations)
    if not path.is_file():
        raise DataError(f"{path}: no such COCO annotation file")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            return COCO(str(path))
    # json.JSONDecodeError is a ValueError; pycocotools asserts that the file holds a dict
    except (ValueError, KeyError, TypeError, AssertionError) as error:
        raise DataError(f"{path}: not a COCO instances file ({type(error).__name__}: {error})") from error


def coco_without_persons(annotations: str, images: str) -> list[Path]:
    """The images of a COCO instances file that hold no person and exist on disk: backgrounds."""
    api = _load_coco(annotations)
    with_persons = set(api.getImgIds(catIds=api.getCatIds(catNms=["person"])))
    ids = [i for i in sorted(api.getImgIds()) if i not in with_persons]
    names = [api.loadImgs(i)[0].get("file_name") for i in ids]
    files = [Path(images) / name for name in names if name]  # entries without a file name: none
    return [f for f in files if f.is_file()]


SOURCE_TYPES = {"matte_folder": matte_folder, "mask_folder": mask_folder, "coco": coco}


def load_sources(entries: list[dict]) -> tuple[list[Foreground], list[dict]]:
    """Build every foreground source from its config entry; returns all items and all skips."""
    if not entries:
        raise ConfigError("data.build.sources is empty: name at least one foreground source")
    items, skipped = [], []
    for entry in entries:
        entry = dict(entry)
        kind = entry.pop("type", None)
        if kind not in SOURCE_TYPES:
            raise ConfigError(f"unknown foreground source type {kind!r}; known: {sorted(SOURCE_TYPES)}")
        try:
            more, why = SOURCE_TYPES[kind](**entry)
        except TypeError as error:
            raise ConfigError(f"data.build.sources entry of type {kind!r}: {error}") from error
        items += more
        skipped += why
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ConfigError("two foreground sources share a name: give each entry its own 'name'")
    return items, skipped


def list_backgrounds(entries: list) -> list[Path]:
    """Every image below each background folder, or each ``{"type": "coco", "annotations": A,
    "images": I}`` entry's person-free images; a missing or image-less folder is fatal."""
    if not entries:
        raise ConfigError("data.backgrounds is empty: name at least one background folder")
    paths = []
    for entry in entries:
        if isinstance(entry, dict):
            entry = dict(entry)
            if entry.pop("type", None) != "coco":
                raise ConfigError(f"a background entry is a folder or {{type: coco, ...}}, got {entry}")
            found = coco_without_persons(**entry)
            if not found:
                raise DataError(f"{entry.get('annotations')}: no person-free image found on disk")
            paths += found
        else:
            paths += list_images(entry)
    return paths
