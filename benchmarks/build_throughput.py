"""Composites per second of the dataset builder, beside the JPEG decode + encode rate of the same
images (the practical limit of a builder that must read photos and write JPEGs).

    python benchmarks/build_throughput.py                    # ../shared/data, else the synthetic set
    python benchmarks/build_throughput.py --count 200 --repeats 5 --size 768 640

One worker (this process, OpenCV on one thread as in a builder worker), so the rate is per worker;
the projection for 90k composites assumes workers scale linearly (they share nothing but the disk).
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from matting.data.build import composite_record
from matting.data.shards import write_shard
from matting.data.sources import list_backgrounds, load_sources
from matting.io.codecs import encode_jpeg
from matting.io.images import read_alpha, read_image
from matting.tables import markdown_table

ROOT = Path(__file__).resolve().parents[1]


def sources(shared: Path, tmp: str):
    if shared.is_dir():
        entries = [{"type": "mask_folder", "name": "portraits", "root": str(shared / "portraits")}]
        return entries, [str(shared / "backgrounds")], "../shared/data portraits + backgrounds"
    from matting.data.synthetic import write_synthetic_dataset

    write_synthetic_dataset(
        tmp, num_foregrounds=40, num_backgrounds=20, fg_size=(768, 640), bg_size=(768, 640)
    )
    return [{"type": "matte_folder", "name": "synthetic", "root": tmp}], [f"{tmp}/bg"], "synthetic set"


def as_coco(items: list, tmp: str) -> dict:
    """The same photos and person masks as a COCO instances file (compressed RLE, one person an
    image), so that the COCO source is timed on the same pixels."""
    from pycocotools import mask as mask_utils

    images, annotations = [], []
    for i, item in enumerate(items, start=1):
        mask = (read_alpha(item.alpha_path) > 127).astype(np.uint8)
        rle = mask_utils.encode(np.asfortranarray(mask))
        height, width = mask.shape
        images.append({"id": i, "file_name": str(item.fg_path), "height": height, "width": width})
        segmentation = {"size": [height, width], "counts": rle["counts"].decode()}
        annotations.append({"id": i, "image_id": i, "category_id": 1, "iscrowd": 0, "area": float(mask.sum()),
                            "bbox": list(cv2.boundingRect(mask)), "segmentation": segmentation})  # fmt: skip
    path = Path(tmp) / "instances.json"
    categories = [{"id": 1, "name": "person"}]
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    # file names are absolute: the image folder is the root
    return {
        "type": "coco",
        "name": "coco",
        "annotations": str(path),
        "images": "/",
        "min_area": 0,
        "min_box": 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3, help="rounds; each row reports its median")
    parser.add_argument("--size", type=int, nargs=2, default=[768, 640])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        entries, backgrounds, label = sources(args.shared, f"{tmp}/raw")
        items, _ = load_sources(entries)
        bgs = list_backgrounds(backgrounds)
        options = {"size": tuple(args.size), "seed": 0, "scale_range": (0.6, 1.0), "max_offset": 0.15,
                   "max_drop": 0.0, "jpeg_quality": 95, "layer_quality": 90}  # fmt: skip
        cv2.setNumThreads(1)  # everything measured as in a builder worker: one core, OpenCV on one thread
        coco_items, _ = load_sources([as_coco(items, tmp)])
        used = {
            kind: [pool[i % len(pool)] for i in range(args.count)]
            for kind, pool in (("folder", items), ("coco", coco_items))
        }

        def builder(kind: str, with_layers: bool) -> tuple[float, float]:
            path = f"{tmp}/bench-{kind}-{with_layers}.tfrecord"
            options_ = {**options, "with_layers": with_layers}
            record = functools.partial(
                composite_record, split="train", split_index=0, backgrounds=bgs, options=options_
            )
            started = time.perf_counter()
            write_shard(path, map(record, enumerate(used[kind])))
            return args.count / (time.perf_counter() - started), Path(path).stat().st_size / args.count

        def limit() -> float:
            """Decode a foreground photo and a background, encode one JPEG at the output size (the
            background's pixels tiled to that size by np.resize: a copy, not an interpolation)."""
            started = time.perf_counter()
            for i in range(args.count):
                read_image(items[i % len(items)].fg_path)
                background = read_image(bgs[i % len(bgs)])
                encode_jpeg(np.resize(background, (*args.size, 3)), 95)
            return args.count / (time.perf_counter() - started)

        rows = {
            ("folder", False): f"composites ({entries[0]['type']}): read, place, blend, encode JPEG + 2 PNG",
            ("folder", True): "composites with layers (+ foreground and background JPEGs at quality 90)",
            ("coco", False): "composites from the same persons as a COCO file (RLE masks, whole photos)",
        }
        runs, sizes = {**{row: [] for row in rows}, "limit": []}, {}
        for _ in range(args.repeats):  # interleaved, so that a slow spell of the machine hits all rows
            for row in rows:
                rate, sizes[row] = builder(*row)
                runs[row].append(rate)
            runs["limit"].append(limit())
        rates = {key: float(np.median(values)) for key, values in runs.items()}

        # The check the builder runs on every input before planning the splits (one decode each).
        started = time.perf_counter()
        for item in coco_items:  # COCO persons: the photo and the RLE decoded, the mask softened
            item.validate()
        check_fg = len(coco_items) / (time.perf_counter() - started)
        started = time.perf_counter()
        for path in bgs:
            read_image(path)
        check_bg = len(bgs) / (time.perf_counter() - started)
        io_rate = rates["limit"]

    print(f"\n{args.count} composites at {args.size[0]}x{args.size[1]} from the {label}, one worker, "
          f"median of {args.repeats} rounds.\n")  # fmt: skip
    table = [
        (label, f"{rates[row]:.1f}", f"{100 * rates[row] / io_rate:.0f}%", f"{sizes[row] / 1000:.0f}",
         f"{90_000 / (rates[row] * 16) / 60:.1f} min")
        for row, label in rows.items()
    ]  # fmt: skip
    limit = "JPEG decode (fg + bg) + encode of the same images: the practical limit"
    table.append((limit, f"{io_rate:.1f}", "100%", "", ""))
    header = ["measure", "per second (one worker)", "% of limit", "kB per record", "90k on 16 workers"]
    print(markdown_table(header, table))
    seconds = (60_000 / check_fg + 20_000 / check_bg) / 16
    print(f"\nInput check, once a build (one worker): {check_fg:.0f} COCO persons/s, "
          f"{check_bg:.0f} backgrounds/s; 60k persons and 20k backgrounds on 16 workers: "
          f"{seconds:.0f} s.")  # fmt: skip


if __name__ == "__main__":
    main()
