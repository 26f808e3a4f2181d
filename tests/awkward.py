"""A corpus of awkward image files, generated at test time (PIL, OpenCV, numpy; a few KB in all), and
the alpha / mask files that pair with them, for every entry point that reads folders of images.

Each :class:`Case` knows its file's true size after the EXIF orientation (``None``: the file cannot
be decoded, so every entry point must skip it, naming the file and the reason ``problem``).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

RAW_W, RAW_H = 24, 16  # the stored pixels of the EXIF cases; orientations 5-8 display them as 16x24
HUGE = 60_000  # the size the bomb's header claims, both sides


@dataclass(frozen=True)
class Case:
    name: str  # the file name in the corpus folder
    size: tuple[int, int] | None  # (width, height) as displayed; None: not decodable
    problem: str = ""  # a regex of the skip reason, for undecodable files

    @property
    def stem(self) -> str:
        return Path(self.name).stem


def _pixels(width: int, height: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, channels), np.uint8)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` RGB, with one row of data: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = zlib.compress(b"\x00" + b"\x00" * 3 * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", row) + chunk(b"IEND", b"")


def write_corpus(folder: Path) -> list[Case]:
    """Write every awkward file into ``folder``; returns the cases, in file-name order."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = []

    def save_rgb(name: str, width: int, height: int, **kw) -> None:
        Image.fromarray(_pixels(width, height, seed=len(cases))).save(folder / name, **kw)
        cases.append(Case(name, (width, height)))

    for width, height in ((1, 1), (2, 2), (1, 23), (23, 1), (300, 3), (3, 300)):
        save_rgb(f"size_{width}x{height}.png", width, height)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(_pixels(RAW_W, RAW_H, seed=orientation)).save(
            folder / f"exif_{orientation}.jpg", exif=exif, quality=95
        )
        shown = (RAW_H, RAW_W) if orientation >= 5 else (RAW_W, RAW_H)
        cases.append(Case(f"exif_{orientation}.jpg", shown))
    Image.fromarray(_pixels(25, 17)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(
        folder / "palette.png"
    )
    cases.append(Case("palette.png", (25, 17)))
    Image.fromarray(_pixels(20, 18, channels=2), mode="LA").save(folder / "gray_alpha.png")
    cases.append(Case("gray_alpha.png", (20, 18)))
    deep = np.random.default_rng(1).integers(0, 65536, (19, 21, 3), np.uint16)
    cv2.imwrite(str(folder / "deep_16bit.png"), deep)
    cases.append(Case("deep_16bit.png", (21, 19)))
    cv2.imwrite(str(folder / "deep_16bit_gray.png"), deep[..., 0])
    cases.append(Case("deep_16bit_gray.png", (21, 19)))
    Image.new("CMYK", (22, 16), (0, 255, 255, 0)).save(folder / "cmyk.jpg")
    cases.append(Case("cmyk.jpg", (22, 16)))
    save_rgb("photo.webp", 26, 18, quality=90)
    Image.fromarray(_pixels(23, 17)).save(folder / "jpeg_named.png", format="JPEG")  # a wrong extension
    cases.append(Case("jpeg_named.png", (23, 17)))

    frames = [Image.fromarray(_pixels(27, 15, seed=seed)) for seed in (40, 41, 42)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    cases.append(Case("animated.gif", (27, 15)))  # its first frame
    save_rgb("pillow_only.tga", 19, 13)  # a format Pillow reads and OpenCV does not
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><circle cx="10" cy="10" r="8"/></svg>'
    )
    (folder / "drawing.svg").write_text(svg + "\n")
    cases.append(Case("drawing.svg", None, r"drawing\.svg: a vector drawing \(SVG\): rasterise it"))
    # An ISO-BMFF header of brand heic: what a phone's HEIC file starts with.
    (folder / "phone.heic").write_bytes(struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0mif1heic" + bytes(64))
    cases.append(Case("phone.heic", None, r"phone\.heic: a format that neither OpenCV nor Pillow reads here"))
    (folder / "folder.jpg").mkdir()
    cases.append(Case("folder.jpg", None, r"folder\.jpg: a folder, not an image file"))

    ok, png = cv2.imencode(".png", _pixels(32, 32))
    (folder / "truncated.png").write_bytes(png.tobytes()[: len(png) // 2])
    cases.append(Case("truncated.png", None, r"truncated\.png: not a readable image"))
    (folder / "zero_bytes.jpg").write_bytes(b"")
    cases.append(Case("zero_bytes.jpg", None, r"zero_bytes\.jpg: empty file"))
    (folder / "text_named.jpg").write_bytes(b"this is not an image\n")
    cases.append(Case("text_named.jpg", None, r"text_named\.jpg: not a readable image"))
    (folder / "bomb.png").write_bytes(_png_header_only(HUGE, HUGE))
    cases.append(Case("bomb.png", None, rf"bomb\.png: {HUGE}x{HUGE} is 3600 MP, over the limit"))
    return sorted(cases, key=lambda c: c.name)


def person_mask(width: int, height: int) -> np.ndarray:
    """A uint8 0 / 255 mask of ``width`` x ``height``: a centred box over 3/4 of each side, never empty."""
    mask = np.zeros((height, width), np.uint8)
    top, left = height // 8, width // 8
    mask[top : max(top + 1, height - top), left : max(left + 1, width - left)] = 255
    return mask


def write_alphas(folder: Path, cases: list[Case]) -> None:
    """An alpha PNG ``{stem}.png`` of each case's displayed size (4x4 for undecodable files)."""
    folder.mkdir(parents=True, exist_ok=True)
    for case in cases:
        cv2.imwrite(str(folder / f"{case.stem}.png"), person_mask(*(case.size or (4, 4))))
