import functools
import http.server
import shutil
import threading

import pytest

from conftest import assert_one_line_error, no_tmp_files, run_module, write_params
from recipes.stages import fetch
from recipes.errors import UserError


@pytest.fixture
def mirror(tmp_path):
    """Two HTTP mirrors on loopback: `good/` and `bad/` folders under one server."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_checks_md5_and_falls_back(mirror, mnist_dir, tmp_path):
    root, url = mirror
    (root / "bad").mkdir()
    (root / "good").mkdir()
    name = "t10k-labels-idx1-ubyte.gz"
    (root / "bad" / name).write_bytes(b"not the labels")
    shutil.copy(mnist_dir / name, root / "good" / name)
    dest = tmp_path / name
    # the first mirror lacks it, the second serves wrong bytes, the third is right
    fetch.download_one(name, [f"{url}/missing", f"{url}/bad", f"{url}/good"], dest)
    assert fetch.md5(dest) == fetch.FILES[name]


def test_md5_mismatch_is_one_line_and_leaves_nothing(mirror, mnist_dir, tmp_path):
    root, url = mirror
    for name in fetch.FILES:
        shutil.copy(mnist_dir / name, root / name)  # the shared train images differ from the official
    work = tmp_path / "repo"
    work.mkdir()
    write_params(work, f"fetch:\n  source: download\n  mirrors: ['{url}/']\n")
    proc = run_module("recipes.stages.fetch", cwd=work)
    assert_one_line_error(proc, "train-images-idx3-ubyte.gz", "md5")
    assert not (work / "data" / "raw").exists()
    assert no_tmp_files(work)


def test_local_folder(mnist_dir, tmp_path):
    work = tmp_path / "repo"
    work.mkdir()
    write_params(work, f"fetch:\n  source: {mnist_dir}\n")
    proc = run_module("recipes.stages.fetch", cwd=work, check=True)
    assert sorted(p.name for p in (work / "data/raw").iterdir()) == sorted(fetch.FILES)
    assert "differs from the official file" in proc.stderr  # the shared copy's train images


def test_local_folder_missing_file(mnist_dir, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(mnist_dir, src)
    (src / "t10k-labels-idx1-ubyte.gz").unlink()
    work = tmp_path / "repo"
    work.mkdir()
    write_params(work, f"fetch:\n  source: {src}\n")
    proc = run_module("recipes.stages.fetch", cwd=work)
    assert_one_line_error(proc, "fetch.source", "t10k-labels-idx1-ubyte.gz", "missing")
    assert not (work / "data" / "raw").exists()


def test_source_neither_download_nor_folder(tmp_path):
    with pytest.raises(UserError, match="fetch.source"):
        fetch.fetch(str(tmp_path / "nowhere"), [], tmp_path / "out")
