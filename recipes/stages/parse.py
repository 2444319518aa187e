"""Stage parse: the raw IDX files into data/tables/{train,test}.parquet.

`parse.limit` > 0 keeps only the first `limit` images of each file (for quick runs).

    python -m recipes.parse [RAW_DIR] [TABLES_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from recipes import idx, tables
from recipes import config, paths
from recipes.errors import UserError, run

SETS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def parse(raw: Path, out: Path, limit: int = 0) -> dict[str, int]:
    """Read and check all four files first, then write both tables: all or nothing.

    `limit` > 0 keeps the first `limit` images of each file and inflates no more of it.
    """
    loaded = {}
    for name, (images, labels) in SETS.items():
        loaded[name] = idx.read_pair(raw / images, raw / labels, limit=limit)
    for name, (X, y) in loaded.items():
        tables.write(out / f"{name}.parquet", X, y)
    return {name: len(y) for name, (_, y) in loaded.items()}


def main() -> None:
    limit = config.load().parse.limit
    raw = Path(sys.argv[1]) if len(sys.argv) > 1 else paths.RAW
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else paths.TABLES
    counts = parse(raw, out, limit)
    note = f" (parse.limit: the first {limit} of each file)" if limit else ""
    print("parse: " + ", ".join(f"{n} {c} rows" for n, c in counts.items()) + note, file=sys.stderr)


if __name__ == "__main__":
    run(main)
