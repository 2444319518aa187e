"""Read and write IDX files (LeCun's MNIST format), plain or gzip-compressed.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian int32 per dimension, then the payload in C order.
Everything the format promises is checked; a broken file raises `UserError` naming it.

    >>> from recipes import idx
    >>> images = idx.read_images("train-images-idx3-ubyte.gz")   # uint8 [60000, 28, 28]
    >>> labels = idx.read_labels("train-labels-idx1-ubyte.gz")   # uint8 [60000]
    >>> idx.write("copy-idx3-ubyte.gz", images)
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from recipes.atomic import atomic_path
from recipes.errors import UserError

# type code -> big-endian numpy dtype, as the format defines them
DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
CODES = {np.dtype(v).newbyteorder("=").str[1:]: k for k, v in DTYPES.items()}

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
SIDE = 28


def read_bytes(path: str | os.PathLike) -> bytes:
    """The file's content, gunzipped when it is gzip (by its magic bytes, not its name)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise UserError(f"{path}: corrupt or truncated gzip ({e})") from None
    if path.suffix == ".gz":
        raise UserError(f"{path}: not a gzip file (it is named .gz but has no gzip header)")
    return raw


def parse(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into an array of the file's own shape and dtype (native byte order)."""
    if len(data) < 4:
        raise UserError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0 or data[2] not in DTYPES:
        magic = int.from_bytes(data[:4], "big")
        raise UserError(f"{name}: not an IDX file (magic number {magic:#010x})")
    dtype = np.dtype(DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise UserError(f"{name}: truncated header ({len(data)} bytes, {ndim} dimensions promised)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated payload" if len(data) < expected else "trailing bytes after the payload"
        raise UserError(
            f"{name}: {what}: header {shape} promises {expected} bytes, file has {len(data)}"
        )
    arr = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def read(path: str | os.PathLike) -> np.ndarray:
    return parse(read_bytes(path), str(path))


def read_images(path: str | os.PathLike) -> np.ndarray:
    """uint8 [N, 28, 28] from an MNIST image file, every header field checked."""
    data = read_bytes(path)
    _check_magic(data, IMAGES_MAGIC, path, "images")
    arr = parse(data, str(path))
    if arr.shape[1:] != (SIDE, SIDE):
        raise UserError(
            f"{path}: images are {arr.shape[1]}x{arr.shape[2]}, expected {SIDE}x{SIDE}"
        )
    return arr


def read_labels(path: str | os.PathLike) -> np.ndarray:
    """uint8 [N] from an MNIST label file; every label must be a digit 0..9."""
    data = read_bytes(path)
    _check_magic(data, LABELS_MAGIC, path, "labels")
    arr = parse(data, str(path))
    if arr.size and arr.max() > 9:
        bad = int(np.argmax(arr > 9))
        raise UserError(f"{path}: label {arr[bad]} at index {bad} is not a digit 0..9")
    return arr


def read_pair(images_path: str | os.PathLike, labels_path: str | os.PathLike):
    """(images uint8 [N, 28, 28], labels uint8 [N]) with matching counts."""
    images, labels = read_images(images_path), read_labels(labels_path)
    if len(images) != len(labels):
        raise UserError(
            f"{images_path}: {len(images)} images but {labels_path} has {len(labels)} labels"
        )
    return images, labels


def encode(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr)
    key = arr.dtype.newbyteorder("=").str[1:]
    if key not in CODES:
        raise ValueError(f"IDX cannot hold dtype {arr.dtype}")
    code = CODES[key]
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(arr, DTYPES[code]).tobytes()


def write(path: str | os.PathLike, arr: np.ndarray) -> None:
    """Write `arr` as IDX, gzip-compressed when the name ends in .gz; atomically."""
    data = encode(arr)
    if str(path).endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _check_magic(data: bytes, magic: int, path, what: str) -> None:
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if found != magic:
        shown = "none" if found is None else f"{found} ({found:#010x})"
        raise UserError(f"{path}: wrong magic number {shown} for {what}, expected {magic}")
