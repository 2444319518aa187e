"""Stage split: a seeded, stratified validation set out of the training table.

Not "the last 10,000 rows": copies of MNIST differ in their order (see the data README),
so only a stratified draw gives every copy the same class balance.

    python -m recipes.split
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from recipes import config, paths, tables
from recipes.errors import UserError, run


def split_indices(y: np.ndarray, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, val rows), each in the table's original order."""
    n = len(y)
    if not isinstance(val_size, int) or isinstance(val_size, bool) or not 0 < val_size < n:
        raise UserError(f"split.val_size: must be a whole number in 1..{n - 1}, got {val_size!r}")
    try:
        train, val = train_test_split(np.arange(n), test_size=val_size, stratify=y,
                                      random_state=seed)
    except ValueError as e:
        raise UserError(f"split.val_size: {val_size} cannot be stratified ({e})") from None
    return np.sort(train), np.sort(val)


def main() -> None:
    cfg = config.load().split
    X, y = tables.read(paths.TRAIN)
    train, val = split_indices(y, cfg.val_size, cfg.seed)
    tables.write(paths.TRAIN_SPLIT, X[train], y[train])
    tables.write(paths.VAL, X[val], y[val])
    print(f"split: {len(train)} train, {len(val)} validation rows", file=sys.stderr)


if __name__ == "__main__":
    run(main)
