"""The flat table every stage reads and writes: `label`, `pixel_0` ... `pixel_783`, uint8.

Pixel k is image row k // 28, column k % 28. One reader and one writer, used everywhere,
so that the rest of the code sees only `uint8 [N, 784]` pixels and `uint8 [N]` labels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recipes.atomic import atomic_path
from recipes.errors import UserError

N_PIXELS = 28 * 28
PIXELS = [f"pixel_{k}" for k in range(N_PIXELS)]
COLUMNS = ["label", *PIXELS]
SCHEMA = pa.schema([(c, pa.uint8()) for c in COLUMNS])


def to_table(X: np.ndarray, y: np.ndarray) -> pa.Table:
    X = np.asarray(X, np.uint8).reshape(len(X), N_PIXELS)
    Xt = np.ascontiguousarray(X.T)  # one contiguous column per pixel: no copy per column below
    arrays = [pa.array(np.asarray(y, np.uint8))] + [pa.array(col) for col in Xt]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def write(path: str | os.PathLike, X: np.ndarray, y: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(to_table(X, y), tmp, compression="zstd")


class Writer:
    """Append (X, y) chunks to one Parquet file as row groups, renamed into place on close."""

    def __init__(self, path: str | os.PathLike):
        self._ctx = atomic_path(path)
        self._tmp = self._ctx.__enter__()
        self._writer = pq.ParquetWriter(self._tmp, SCHEMA, compression="zstd")
        self.rows = 0

    def append(self, X: np.ndarray, y: np.ndarray) -> None:
        self._writer.write_table(to_table(X, y))
        self.rows += len(y)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._writer.close()
        return self._ctx.__exit__(*exc)


def read(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 [N, 784], labels uint8 [N]) from a table, its columns checked."""
    path = Path(path)
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (pa.ArrowInvalid, OSError) as e:
        raise UserError(f"{path}: not a readable Parquet table ({e})") from None
    if table.column_names != COLUMNS:
        raise UserError(f"{path}: expected the 785 columns label, pixel_0..pixel_783")
    if any(t != pa.uint8() for t in table.schema.types):
        raise UserError(f"{path}: every column must be uint8")
    X = np.empty((table.num_rows, N_PIXELS), np.uint8)
    for k in range(N_PIXELS):
        X[:, k] = table.column(k + 1).to_numpy()
    return X, table.column(0).to_numpy()


def images(X: np.ndarray) -> np.ndarray:
    """[N, 784] rows as [N, 28, 28] images (a view)."""
    return X.reshape(-1, 28, 28)


def to_unit(x):
    """uint8 pixels -> float32 in [0, 1]: the one place where pixels are scaled.

    Takes a numpy array or a torch tensor and returns the same kind.
    """
    if isinstance(x, np.ndarray):
        return x.astype(np.float32) * np.float32(1 / 255)
    return x.float().mul_(1 / 255)


def check(X, y=None, classes: int = 10):
    """X as uint8 pixels [N, 784] (and y as digits, or `classes` classes, uint8 [N]): what
    every model takes.

    Accepts [N, 784] or [N, 28, 28] of any integer or float dtype holding whole numbers in
    0..255, as a tabular tool hands them over; refuses anything else with a ValueError rather
    than guessing (floats in [0, 1] would otherwise be read as near-black images).
    """
    X = np.asarray(X)
    if X.ndim == 3 and X.shape[1:] == (28, 28):
        X = X.reshape(len(X), N_PIXELS)
    if X.ndim != 2 or X.shape[1] != N_PIXELS:
        raise ValueError(f"expected pixels of shape [N, {N_PIXELS}] or [N, 28, 28], got {X.shape}")
    if X.dtype != np.uint8:
        if not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)):
            raise ValueError(f"expected numeric pixels, got dtype {X.dtype}")
        if X.size and (X.min() < 0 or X.max() > 255 or not np.array_equal(X, np.round(X))):
            raise ValueError("expected pixels as whole numbers 0..255 (uint8, as the tables "
                             f"hold them), got values in [{X.min():g}, {X.max():g}]")
        X = X.astype(np.uint8)
    if y is None:
        return X
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise ValueError(f"expected one label per image ({len(X)}), got shape {y.shape}")
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= classes):
        raise ValueError("expected labels that are digits 0..9" if classes == 10
                         else f"expected labels that are classes 0..{classes - 1}")
    return X, y.astype(np.uint8)
