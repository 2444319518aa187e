"""Throughput of recipes.distort on the 60,000 MNIST training digits, and of the expand stage.

    python benchmarks/bench_distort.py [--threads 2] [--copies 10] [--mnist DIR]

Prints images per second (best of --repeats, wall clock) and CPU microseconds per image
for elastic, affine, both in one sampling, and shift; then the time the expand stage takes
to write 50,000 images plus --copies elastic copies of each. On a machine that others are
using, wall clock varies run to run: the best run and the CPU time are the steadier figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from recipes import distort, idx, tables
from recipes.stages import expand

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int) -> tuple[float, float]:
    """(best wall seconds, CPU seconds of that run)."""
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--images", type=int, default=50_000, help="originals for the expand stage")
    ap.add_argument("--reference", action="store_true",
                    help="also time scipy's per-image gaussian_filter + map_coordinates")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    X, y = idx.read_pair(args.mnist / "train-images-idx3-ubyte.gz",
                         args.mnist / "train-labels-idx1-ubyte.gz")
    X, y = X.reshape(len(X), -1), np.array(y)
    x = tables.to_unit(torch.from_numpy(np.array(X))).view(-1, 1, 28, 28)
    n = len(x)
    print(f"{n:,} images, torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)

    gen = torch.Generator().manual_seed(0)
    aff = {"degrees": 10, "scale": [0.9, 1.1], "shear": 10, "translate": 2}
    cases = {
        "elastic (alpha 34, sigma 4)": lambda: distort.elastic(x, gen, 34.0, 4.0),
        "affine (10 deg, 0.9-1.1, shear 10, 2 px)": lambda: distort.affine(x, gen, **aff),
        "elastic + affine, one sampling": lambda: distort.distort(x, gen, {}, aff),
        "shift (one pixel down)": lambda: distort.shift(x, 1, 0),
    }
    for name, fn in cases.items():
        fn()  # warm: caches, allocator
        wall, cpu = timed(fn, args.repeats)
        print(f"{name:42s} {n / wall:>11,.0f} images/s   {cpu / n * 1e6:6.2f} CPU us/image",
              flush=True)

    if args.reference:
        from scipy.ndimage import gaussian_filter, map_coordinates
        rng = np.random.default_rng(0)
        some = X[:2000].reshape(-1, 28, 28).astype(np.float32) / 255
        grid = np.mgrid[0:28, 0:28].astype(np.float32)

        def scipy_elastic():
            for img in some:
                d = 34 * gaussian_filter(rng.uniform(-1, 1, (2, 28, 28)), (0, 4, 4))
                map_coordinates(img, grid + d, order=1, mode="constant")
        wall, _ = timed(scipy_elastic, 1)
        name = "scipy per image (reference)"
        print(f"{name:42s} {len(some) / wall:>11,.0f} images/s", flush=True)

    plan = expand.check({"copies": args.copies, "seed": 0, "transforms": ["elastic"]})
    m = min(args.images, n)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rows = expand.expand(X[:m], y[:m], plan, Path(tmp) / "t.parquet", Path(tmp) / "d.png")
        seconds = time.perf_counter() - t0
        size = (Path(tmp) / "t.parquet").stat().st_size
    print(f"expand stage: {m:,} images + {args.copies} elastic copies = {rows:,} rows "
          f"in {seconds:.1f} s ({rows / seconds:,.0f} rows/s, {size / 2**20:.0f} MiB)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
