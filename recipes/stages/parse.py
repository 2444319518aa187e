"""Stage parse: the raw IDX files into data/tables/{train,test}.parquet.

`parse.limit` > 0 keeps only the first `limit` images of each file (for quick runs).

    python -m recipes.parse [RAW_DIR] [TABLES_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from recipes import idx, tables
from recipes import params as P
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
    cfg = P.load().get("parse") or {}
    raw = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("data/raw")
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("data/tables")
    limit = cfg.get("limit", 0) or 0
    if not isinstance(limit, int) or limit < 0:
        raise UserError(f"parse.limit: must be a whole number >= 0 (0 = all), got {limit!r}")
    counts = parse(raw, out, limit)
    print("parse: " + ", ".join(f"{n} {c} rows" for n, c in counts.items()), file=sys.stderr)


if __name__ == "__main__":
    run(main)
