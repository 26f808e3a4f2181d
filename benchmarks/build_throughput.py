"""Composites per second of the dataset builder, beside the JPEG decode + encode rate of the same
images (the practical limit of a builder that must read photos and write JPEGs).

    python benchmarks/build_throughput.py                    # ../shared/data, else the synthetic set
    python benchmarks/build_throughput.py --count 200 --size 768 640

One worker (this process, OpenCV on one thread as in a builder worker), so the rate is per worker;
the projection for 90k composites assumes workers scale linearly (they share nothing but the disk).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from matting.data.build import ShardTask, build_shard
from matting.data.sources import list_backgrounds, load_sources
from matting.io import encode_jpeg, read_image

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--size", type=int, nargs=2, default=[768, 640])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        entries, backgrounds, label = sources(args.shared, f"{tmp}/raw")
        items, _ = load_sources(entries)
        bgs = list_backgrounds(backgrounds)
        options = {"size": tuple(args.size), "seed": 0, "scale_range": (0.6, 1.0), "max_offset": 0.15,
                   "jpeg_quality": 95}  # fmt: skip
        task = ShardTask(f"{tmp}/bench.tfrecord", "train", 0, range(args.count), items, bgs, options)
        cv2.setNumThreads(1)  # both measured as in a builder worker: one core, OpenCV on one thread
        started = time.perf_counter()
        build_shard(task)
        build_rate = args.count / (time.perf_counter() - started)

        # The limit: decode a foreground photo and a background, encode one JPEG at the output size.
        started = time.perf_counter()
        for i in range(args.count):
            read_image(items[i % len(items)].fg_path)
            background = read_image(bgs[i % len(bgs)])
            canvas = np.resize(background, (*args.size, 3))
            encode_jpeg(canvas, 95)
        io_rate = args.count / (time.perf_counter() - started)

    hours = 90_000 / (build_rate * 16) / 3600
    print(f"\n{args.count} composites at {args.size[0]}x{args.size[1]} from the {label}, one worker.\n")
    print("| measure | per second (one worker) |")
    print("|---|---|")
    print(f"| composites written (read, place, blend, encode JPEG + 2 PNG, TFRecord) | {build_rate:.1f} |")
    print(f"| JPEG decode (fg + bg) + encode of the same images: the practical limit | {io_rate:.1f} |")
    print(f"\nbuilder at {100 * build_rate / io_rate:.0f}% of the limit; 90k composites on 16 workers: "
          f"about {hours * 60:.1f} minutes")  # fmt: skip


if __name__ == "__main__":
    main()
