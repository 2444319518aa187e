import gzip
import shutil
import tracemalloc
import zlib

import numpy as np
import pytest

from conftest import assert_one_line_error, no_tmp_files, run_in_process, run_module, write_params
from recipes import idx, tables
from recipes.errors import UserError
from recipes.stages.parse import SETS, parse


def test_round_trip_gzip_and_plain(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    for suffix in (".gz", ""):
        idx.write(tmp_path / f"i{suffix}", images)
        idx.write(tmp_path / f"l{suffix}", labels)
        got_i, got_l = idx.read_pair(tmp_path / f"i{suffix}", tmp_path / f"l{suffix}")
        assert got_i.dtype == np.uint8 and np.array_equal(got_i, images)
        assert np.array_equal(got_l, labels)
    # the header is the format's: magic 2051, then 7, 28, 28 big-endian
    raw = (tmp_path / "i").read_bytes()
    assert raw[:16] == bytes([0, 0, 8, 3, 0, 0, 0, 7, 0, 0, 0, 28, 0, 0, 0, 28])


def test_round_trip_other_dtypes(tmp_path):
    arr = np.arange(12, dtype=np.int32).reshape(3, 4) - 5
    idx.write(tmp_path / "a.idx", arr)
    assert np.array_equal(idx.read(tmp_path / "a.idx"), arr)


def test_real_test_file(mnist_dir):
    images, labels = idx.read_pair(mnist_dir / "t10k-images-idx3-ubyte.gz",
                                   mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the official first labels
    assert np.bincount(labels).tolist()[:3] == [980, 1135, 1032]


def test_table_layout(tmp_path, mnist_test):
    """Pixel k is image row k // 28, column k % 28; 785 uint8 columns, label first."""
    X, y = mnist_test
    tables.write(tmp_path / "t.parquet", X[:50], y[:50])
    import pyarrow.parquet as pq
    t = pq.read_table(tmp_path / "t.parquet")
    assert t.column_names == tables.COLUMNS and len(t.column_names) == 785
    img = X[:50].reshape(-1, 28, 28)
    assert t.column("pixel_100").to_numpy()[3] == img[3, 100 // 28, 100 % 28]
    X2, y2 = tables.read(tmp_path / "t.parquet")
    assert np.array_equal(X2, X[:50]) and np.array_equal(y2, y[:50])


def _raw_dir(tmp_path, mnist_dir):
    raw = tmp_path / "raw"
    raw.mkdir()
    for images, labels in SETS.values():
        for name in (images, labels):
            shutil.copy(mnist_dir / name, raw / name)
    return raw


def _gz(path, data: bytes):
    path.write_bytes(gzip.compress(data))


def _images_bytes(n=5, h=28, w=28, magic=2051):
    body = np.zeros(n * h * w, np.uint8).tobytes()
    return magic.to_bytes(4, "big") + b"".join(v.to_bytes(4, "big") for v in (n, h, w)) + body


def _labels_bytes(labels):
    return (2049).to_bytes(4, "big") + len(labels).to_bytes(4, "big") + bytes(labels)


BAD = {
    "truncated gzip": ("t10k-images-idx3-ubyte.gz", lambda p: p.write_bytes(p.read_bytes()[:5000]),
                       "gzip"),
    "not gzip": ("t10k-images-idx3-ubyte.gz", lambda p: p.write_bytes(b"hello, not gzip" * 10),
                 "not a gzip file"),
    "wrong magic": ("t10k-images-idx3-ubyte.gz", lambda p: _gz(p, _images_bytes(magic=2049)),
                    "magic"),
    "27x28": ("t10k-images-idx3-ubyte.gz", lambda p: _gz(p, _images_bytes(h=27)), "27x28"),
    "count mismatch": ("t10k-labels-idx1-ubyte.gz", lambda p: _gz(p, _labels_bytes([1] * 9999)),
                       "9999 labels"),
    "truncated payload": ("t10k-images-idx3-ubyte.gz",
                          lambda p: _gz(p, _images_bytes(n=10000)[:-100]), "truncated payload"),
    "label above 9": ("t10k-labels-idx1-ubyte.gz",
                      lambda p: _gz(p, _labels_bytes([3] * 9999 + [12])), "label 12"),
    "trailing bytes": ("t10k-images-idx3-ubyte.gz",
                       lambda p: _gz(p, _images_bytes(n=10000) + b"x"), "trailing bytes"),
    "empty file": ("t10k-images-idx3-ubyte.gz", lambda p: p.write_bytes(b""), "empty file"),
    "zero images": ("t10k-images-idx3-ubyte.gz", lambda p: _gz(p, _images_bytes(n=0)),
                    "no images"),
    "zero labels": ("t10k-labels-idx1-ubyte.gz", lambda p: _gz(p, _labels_bytes([])),
                    "no labels"),
    "absurd header": ("t10k-images-idx3-ubyte.gz",
                      lambda p: _gz(p, _header(2051, 2**31 - 1, 28, 28)), "more than"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_one_line_and_nothing_written(case, tmp_path, mnist_dir, monkeypatch, capsys):
    name, damage, message = BAD[case]
    raw = _raw_dir(tmp_path, mnist_dir)
    damage(raw / name)
    write_params(tmp_path, "parse: {limit: 0}")
    out = tmp_path / "tables"
    if case == "not gzip":  # the stage as dvc runs it, once; the other cases in this process
        proc = run_module("recipes.stages.parse", raw, out, cwd=tmp_path)
    else:
        proc = run_in_process("recipes.stages.parse", raw, out, cwd=tmp_path,
                              monkeypatch=monkeypatch, capsys=capsys)
    assert_one_line_error(proc, message)
    assert name in proc.stderr or "t10k" in proc.stderr
    assert not out.exists() or not any(out.glob("*.parquet"))
    assert no_tmp_files(tmp_path)


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        idx.read_images(tmp_path / "missing.gz")


# --- hostile inputs (issue 21): bombs, absurd headers, empty files, limits ---------------

def _gzip_bomb(path, head: bytes, zeros_mib: int, crc: bool = True) -> None:
    """gzip of `head` + `zeros_mib` MiB of zeros, written streaming in ~1 KiB per MiB.

    A full flush resets deflate's window, so every MiB of zeros compresses to the same
    block: it is compressed once and repeated. `crc=False` leaves the trailer's CRC zero
    (summing GBs of zeros is slow), for bombs a reader must refuse long before the trailer.
    """
    c = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: gzip framing written by hand
    zeros = bytes(1 << 20)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    crc32 = zlib.crc32(head)
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + first)
        for _ in range(zeros_mib):
            f.write(block)
            crc32 = zlib.crc32(zeros, crc32) if crc else 0
        size = (len(head) + (zeros_mib << 20)) % 2**32
        f.write(c.flush() + crc32.to_bytes(4, "little") + size.to_bytes(4, "little"))


def _header(magic, *dims):
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


BOMBS = {
    # header promises MNIST's 60,000 images, then 256 MiB more zeros than that
    "valid header": (_header(2051, 60000, 28, 28), 256 + 45, True, {}, "trailing bytes"),
    "wrong magic": (_header(0x12345678, 60000, 28, 28), 256, True, {}, "magic"),
    # 3.06 GB promised and present (the bomb): refused by the 1 GiB bound, limit or not
    "3 GB promised": (_header(2051, 3_900_000, 28, 28), 2916, False, {"limit": 6000},
                      "more than the 1 GiB limit"),
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_gzip_bomb_refused_with_bounded_memory(case, tmp_path):
    """A small .gz inflating to hundreds of MB (or GB): one line naming the file, and memory
    bounded by what the header promises (47 MB for 60,000 images), not by the bomb."""
    head, zeros_mib, crc, kwargs, message = BOMBS[case]
    bomb = tmp_path / "bomb-idx3-ubyte.gz"
    _gzip_bomb(bomb, head, zeros_mib, crc)
    assert bomb.stat().st_size < 4 << 20
    tracemalloc.start()  # numpy's arrays and zlib's output are traced, not only Python objects
    try:
        with pytest.raises(UserError) as e:
            idx.read_images(bomb, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(e.value).startswith(f"{bomb}: ") and message in str(e.value), e.value
    assert "\n" not in str(e.value)
    assert peak < 200 << 20, f"peak {peak >> 20} MiB"


@pytest.mark.parametrize("gz", [False, True])
def test_absurd_dimensions_refused(gz, tmp_path):
    """2^31 x 2^31 x 4 wraps round to 0 in int64 and matched a 16-byte file; Python ints don't."""
    data = _header(0x0803, 2**31, 2**31, 4)
    path = tmp_path / ("huge.gz" if gz else "huge")
    (_gz(path, data) if gz else path.write_bytes(data))
    with pytest.raises(UserError, match=r"huge(\.gz)?: .*promises \d+"):
        idx.read(path)
    with pytest.raises(UserError, match="promises"):
        idx.parse(data, "huge")


def test_images_beyond_what_the_gzip_can_hold(tmp_path):
    """A header promising 2^31-1 images is refused before anything is allocated or inflated."""
    path = tmp_path / "many-idx3-ubyte.gz"
    _gz(path, _header(2051, 2**31 - 1, 28, 28) + bytes(784))
    with pytest.raises(UserError, match="many-idx3-ubyte.gz: header .* more than"):
        idx.read_images(path, limit=10)


def test_truncated_gzip_beyond_limit_is_not_inflated(tmp_path, mnist_dir):
    """With a limit only the kept images are inflated: a file cut off later still gives them."""
    real = mnist_dir / "t10k-images-idx3-ubyte.gz"
    cut = tmp_path / "cut-idx3-ubyte.gz"
    cut.write_bytes(real.read_bytes()[:100_000])
    first = idx.read_images(cut, limit=20)
    assert np.array_equal(first, idx.read_images(real)[:20])
    with pytest.raises(UserError, match="cut-idx3-ubyte.gz: corrupt or truncated gzip"):
        idx.read_images(cut)


def test_limit_on_real_files(mnist_dir):
    images, labels = idx.read_pair(mnist_dir / "t10k-images-idx3-ubyte.gz",
                                   mnist_dir / "t10k-labels-idx1-ubyte.gz", limit=300)
    assert images.shape == (300, 28, 28) and labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    # a limit beyond the file keeps it whole, and 0 means all, as parse.limit does
    assert len(idx.read_labels(mnist_dir / "t10k-labels-idx1-ubyte.gz", limit=10**6)) == 10000
    assert len(idx.read_labels(mnist_dir / "t10k-labels-idx1-ubyte.gz", limit=0)) == 10000


def test_count_mismatch_found_in_headers_even_with_limit(tmp_path):
    _gz(tmp_path / "i.gz", _images_bytes(n=5))
    _gz(tmp_path / "l.gz", _labels_bytes([1] * 4))
    with pytest.raises(UserError, match="5 images but .*l.gz has 4 labels"):
        idx.read_pair(tmp_path / "i.gz", tmp_path / "l.gz", limit=2)


def test_stage_parse_limit_reads_only_the_kept_images(tmp_path, mnist_dir):
    """parse(raw, out, limit): truncated files are fine as long as the kept part is whole."""
    raw = _raw_dir(tmp_path, mnist_dir)
    for images, _ in SETS.values():
        (raw / images).write_bytes((raw / images).read_bytes()[:200_000])
    counts = parse(raw, tmp_path / "tables", 100)
    assert counts == {"train": 100, "test": 100}
    X, y = tables.read(tmp_path / "tables" / "test.parquet")
    assert X.shape == (100, 784) and y[:3].tolist() == [7, 2, 1]


def test_trailing_and_gzip_framing(tmp_path):
    """Trailing bytes inside the gzip, garbage after it, several members and zero padding."""
    data = _images_bytes(n=2)
    _gz(tmp_path / "t.gz", data + b"\x00")
    with pytest.raises(UserError, match="t.gz: trailing bytes"):
        idx.read_images(tmp_path / "t.gz")
    (tmp_path / "g.gz").write_bytes(gzip.compress(data) + b"junk")
    with pytest.raises(UserError, match="g.gz: corrupt gzip"):
        idx.read_images(tmp_path / "g.gz")
    members = gzip.compress(data[:100]) + gzip.compress(data[100:])
    (tmp_path / "m.gz").write_bytes(members + bytes(3))
    assert idx.read_images(tmp_path / "m.gz").shape == (2, 28, 28)
    bad_crc = bytearray(gzip.compress(data))
    bad_crc[-8] ^= 1
    (tmp_path / "c.gz").write_bytes(bad_crc)
    with pytest.raises(UserError, match="c.gz: corrupt or truncated gzip"):
        idx.read_images(tmp_path / "c.gz")


def test_round_trip_wide_dtypes_through_small_chunks(tmp_path, monkeypatch):
    """Inflating a few bytes at a time (zlib holding output back) gives the same array."""
    monkeypatch.setattr(idx, "_OUT_CHUNK", 7)
    monkeypatch.setattr(idx, "_IN_CHUNK", 3)
    arr = np.linspace(-1, 1, 2 * 3 * 5).reshape(2, 3, 5)
    idx.write(tmp_path / "f.gz", arr)
    got = idx.read(tmp_path / "f.gz")
    assert got.dtype == np.float64 and np.array_equal(got, arr)
