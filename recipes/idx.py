"""Read and write IDX files (LeCun's MNIST format), plain or gzip-compressed.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian int32 per dimension, then the payload in C order.
Everything the format promises is checked; a broken file raises `UserError` naming it.

Files are read as a stream: the header is read and checked first, and no more is ever
inflated than the header promises (plus one byte, to find trailing bytes), so a gzip
bomb or a header promising terabytes is refused with bounded memory.

    >>> from recipes import idx
    >>> images = idx.read_images("train-images-idx3-ubyte.gz")   # uint8 [60000, 28, 28]
    >>> labels = idx.read_labels("train-labels-idx1-ubyte.gz")   # uint8 [60000]
    >>> first = idx.read_images("train-images-idx3-ubyte.gz", limit=1000)  # inflates only those
    >>> idx.write("copy-idx3-ubyte.gz", images)
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
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

MAX_PAYLOAD = 1 << 30  # 1 GiB: MNIST's largest file holds 47 MB; anything near this is hostile
GZIP_MAX_RATIO = 1032  # deflate's best ratio: a payload beyond size x this cannot be in the file
_IN_CHUNK = 1 << 20  # compressed bytes read at a time
_OUT_CHUNK = 1 << 22  # inflated bytes per zlib call: bounds the temporary beside the array


class _Plain:
    """An uncompressed file (or bytes): its size is known, so a wrong size is caught up front."""

    exact = True

    def __init__(self, f, size: int, name: str):
        self.f, self.size, self.name = f, size, name

    def readinto(self, view: memoryview) -> int:
        n = 0
        while n < len(view):
            got = self.f.readinto(view[n:])
            if not got:
                break
            n += got
        return n


class _Gzip:
    """A gzip file inflated on demand, never more than asked for (zlib's max_length)."""

    exact = False  # the inflated size is only known at the end of the stream

    def __init__(self, f, size: int, name: str):
        self.f, self.size, self.name = f, size, name
        self.z = zlib.decompressobj(wbits=31)  # 31: gzip framing, zlib checks CRC and length
        self.tail = b""  # compressed input zlib has not consumed yet
        self.file_ended = False

    def readinto(self, view: memoryview) -> int:
        n = 0
        while n < len(view):
            chunk = self._inflate(min(len(view) - n, _OUT_CHUNK))
            if not chunk:
                break
            view[n : n + len(chunk)] = chunk
            n += len(chunk)
        return n

    def _inflate(self, most: int) -> bytes:
        """Up to `most` inflated bytes; b"" only at a clean end of the gzip stream."""
        while True:
            if self.z.eof and not self._next_member():
                return b""
            if not self.tail and not self.file_ended:
                self.tail = self._read_compressed()
            # even without new input zlib may hold inflated bytes that `most` held back
            try:
                out = self.z.decompress(self.tail, most)
            except zlib.error as e:
                raise UserError(f"{self.name}: corrupt or truncated gzip ({e})") from None
            self.tail = self.z.unconsumed_tail
            if out:
                return out
            if not self.z.eof and not self.tail and self.file_ended:
                raise UserError(
                    f"{self.name}: corrupt or truncated gzip (the compressed data ends early)"
                )

    def _read_compressed(self) -> bytes:
        data = self.f.read(_IN_CHUNK)
        self.file_ended = not data
        return data

    def _next_member(self) -> bool:
        """After one gzip member: another member (True), or the end of the file (False).

        Like gzip.decompress, accepts several members and zero padding after the last one.
        """
        rest = self.z.unused_data.lstrip(b"\0")
        while len(rest) < 2 and not self.file_ended:
            rest = (rest + self._read_compressed()).lstrip(b"\0")
        if not rest:
            return False
        if rest[:2] != b"\x1f\x8b":
            raise UserError(f"{self.name}: corrupt gzip (bytes that are not gzip after its end)")
        self.z, self.tail = zlib.decompressobj(wbits=31), rest
        return True


@contextlib.contextmanager
def _open(path: str | os.PathLike):
    """The file as a _Plain or _Gzip source (gzip by its magic bytes, not its name)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise UserError(f"{path}: empty file (0 bytes)")
            gz = f.read(2) == b"\x1f\x8b"
            if not gz and path.suffix == ".gz":
                raise UserError(
                    f"{path}: not a gzip file (it is named .gz but has no gzip header)"
                )
            f.seek(0)
            yield (_Gzip if gz else _Plain)(f, size, str(path))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from None


def _read(src, n: int) -> bytes:
    buf = bytearray(n)
    return bytes(buf[: src.readinto(memoryview(buf))])


def _header(src, magic: int | None = None, what: str = "") -> tuple[np.dtype, tuple[int, ...]]:
    """Read and check the header's format: dtype and shape (not yet their size: `_check_size`)."""
    head = _read(src, 4)
    found = int.from_bytes(head, "big") if len(head) == 4 else None
    if magic is not None and found != magic:
        shown = "none" if found is None else f"{found} ({found:#010x})"
        raise UserError(f"{src.name}: wrong magic number {shown} for {what}, expected {magic}")
    if found is None:
        raise UserError(f"{src.name}: too short for an IDX header ({len(head)} bytes)")
    if head[0] or head[1] or head[2] not in DTYPES:
        raise UserError(f"{src.name}: not an IDX file (magic number {found:#010x})")
    dtype, ndim = np.dtype(DTYPES[head[2]]), head[3]
    dims = _read(src, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise UserError(
            f"{src.name}: truncated header ({4 + len(dims)} bytes, {ndim} dimensions promised)"
        )
    return dtype, tuple(int.from_bytes(dims[i : i + 4], "big") for i in range(0, 4 * ndim, 4))


def _check_size(src, dtype: np.dtype, shape: tuple[int, ...]) -> tuple[np.dtype, tuple]:
    """A payload the file can hold, or one line; before anything is allocated or inflated.

    Python integers: a product of int32 dimensions must not wrap round to a small number.
    """
    header = 4 + 4 * len(shape)
    need = math.prod(shape) * dtype.itemsize
    total = header + need
    if src.exact and src.size != total:
        what = "truncated payload" if src.size < total else "trailing bytes after the payload"
        raise UserError(
            f"{src.name}: {what}: header {shape} promises {total} bytes, file has {src.size}"
        )
    room = MAX_PAYLOAD if src.exact else min(MAX_PAYLOAD, src.size * GZIP_MAX_RATIO)
    if need > room:
        why = "the 1 GiB limit" if room == MAX_PAYLOAD else f"a {src.size}-byte gzip file can hold"
        raise UserError(
            f"{src.name}: header {shape} promises {need} payload bytes, more than {why}"
        )
    return dtype, shape


def _payload(src, dtype: np.dtype, shape: tuple[int, ...], limit: int | None) -> np.ndarray:
    """The first `limit` rows (all when None) in native byte order; if all were read,
    nothing may follow them."""
    rows = shape[0] if shape else 1
    kept = rows if limit is None else min(limit, rows)
    arr = np.empty((kept, *shape[1:]) if shape else (), dtype)
    got = src.readinto(memoryview(arr.reshape(-1).view(np.uint8)))
    header = 4 + 4 * len(shape)
    if got < arr.nbytes:
        promised = header + math.prod(shape) * dtype.itemsize
        raise UserError(
            f"{src.name}: truncated payload: header {shape} promises {promised} bytes, "
            f"file has {header + got}"
        )
    if kept == rows and _read(src, 1):  # one byte is enough: the rest stays compressed
        raise UserError(
            f"{src.name}: trailing bytes after the payload: header {shape} promises "
            f"{header + arr.nbytes} bytes, the file holds more"
        )
    return arr.astype(dtype.newbyteorder("="), copy=False)


def _check_limit(limit: int | None) -> int | None:
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a whole number >= 0, got {limit!r}")
    return limit or None  # 0 means all, as parse.limit does


def parse(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into an array of the file's own shape and dtype (native byte order)."""
    src = _Plain(io.BytesIO(data), len(data), name)
    return _payload(src, *_check_size(src, *_header(src)), None)


def read(path: str | os.PathLike) -> np.ndarray:
    """Any IDX file, of its own shape and dtype; its payload at most 1 GiB."""
    with _open(path) as src:
        return _payload(src, *_check_size(src, *_header(src)), None)


def _images_header(src) -> tuple[np.dtype, tuple[int, ...]]:
    dtype, shape = _header(src, IMAGES_MAGIC, "images")
    if shape[1:] != (SIDE, SIDE):
        raise UserError(f"{src.name}: images are {shape[1]}x{shape[2]}, expected {SIDE}x{SIDE}")
    if shape[0] == 0:
        raise UserError(f"{src.name}: no images (the header promises 0)")
    return _check_size(src, dtype, shape)


def _labels_header(src) -> tuple[np.dtype, tuple[int, ...]]:
    dtype, shape = _header(src, LABELS_MAGIC, "labels")
    if shape[0] == 0:
        raise UserError(f"{src.name}: no labels (the header promises 0)")
    return _check_size(src, dtype, shape)


def _check_digits(path, labels: np.ndarray) -> np.ndarray:
    if labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        raise UserError(f"{path}: label {labels[bad]} at index {bad} is not a digit 0..9")
    return labels


def read_images(path: str | os.PathLike, limit: int | None = None) -> np.ndarray:
    """uint8 [N, 28, 28] from an MNIST image file, every header field checked.

    `limit` (0 or None: all) keeps the first `limit` images and inflates no more. The rest of
    a gzip file is then not read, so trailing bytes, a truncation or a bad checksum beyond
    the kept images go unnoticed (a plain file's size is still checked against its header).
    """
    limit = _check_limit(limit)
    with _open(path) as src:
        return _payload(src, *_images_header(src), limit)


def read_labels(path: str | os.PathLike, limit: int | None = None) -> np.ndarray:
    """uint8 [N] from an MNIST label file; every label must be a digit 0..9.

    `limit` as in `read_images`: only the kept labels are read and checked.
    """
    limit = _check_limit(limit)
    with _open(path) as src:
        labels = _payload(src, *_labels_header(src), limit)
    return _check_digits(path, labels)


def read_pair(images_path: str | os.PathLike, labels_path: str | os.PathLike,
              limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 28, 28], labels uint8 [N]) with matching counts.

    The counts are compared in the headers, so they must match even under `limit`
    (which is as in `read_images`).
    """
    limit = _check_limit(limit)
    with _open(images_path) as isrc, _open(labels_path) as lsrc:
        ihead, lhead = _images_header(isrc), _labels_header(lsrc)
        if ihead[1][0] != lhead[1][0]:
            raise UserError(
                f"{images_path}: {ihead[1][0]} images but {labels_path} has {lhead[1][0]} labels"
            )
        images = _payload(isrc, *ihead, limit)
        labels = _payload(lsrc, *lhead, limit)
    return images, _check_digits(labels_path, labels)


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
