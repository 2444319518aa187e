import gzip
import shutil

import numpy as np
import pytest

from conftest import assert_one_line_error, no_tmp_files, run_module
from recipes import idx, tables
from recipes.errors import UserError
from recipes.stages.parse import SETS


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
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_one_line_and_nothing_written(case, tmp_path, mnist_dir):
    name, damage, message = BAD[case]
    raw = _raw_dir(tmp_path, mnist_dir)
    damage(raw / name)
    (tmp_path / "params.yaml").write_text("parse: {limit: 0}\n")
    out = tmp_path / "tables"
    proc = run_module("recipes.stages.parse", raw, out, cwd=tmp_path)
    assert_one_line_error(proc, message)
    assert name in proc.stderr or "t10k" in proc.stderr
    assert not out.exists() or not any(out.glob("*.parquet"))
    assert no_tmp_files(tmp_path)


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        idx.read_images(tmp_path / "missing.gz")
