"""Shared fixtures: small slices of the real MNIST files in ../shared/data/mnist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MNIST = Path(os.environ.get("MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist"))


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.fail(f"MNIST files not found in {MNIST} (set MNIST_DIR)")
    return MNIST


@pytest.fixture(scope="session")
def mnist_train(mnist_dir):
    """All 60,000 training images as (uint8 [N, 784], uint8 [N])."""
    from recipes import idx

    X, y = idx.read_pair(mnist_dir / "train-images-idx3-ubyte.gz",
                         mnist_dir / "train-labels-idx1-ubyte.gz")
    return X.reshape(len(X), -1), y


@pytest.fixture(scope="session")
def train_digits(mnist_train):
    """The first 3,000 training images and labels: what synthetic photos and groups are
    written with (the photo reader's tests)."""
    return mnist_train[0][:3000], mnist_train[1][:3000]


@pytest.fixture(scope="session")
def overlapping_sevens(train_digits):
    """A photo of two 7s written 8 px apart (touching, overlapping), and stand-ins for the
    reader's nets on its parts: `wide(X)` (the inputs wider than tall: both 7s, not one),
    `classify` (a 7 at 0.91 for the whole, 0.5 for either half) and `several` (a verifier's
    term: the whole is several digits)."""
    from types import SimpleNamespace

    from PIL import Image

    X, y = train_digits
    sevens = X[y == 7][:2].reshape(2, 28, 28).astype(np.float32) / 255
    line = np.zeros((60, 120), np.float32)
    line[16:44, 30:58] = np.maximum(line[16:44, 30:58], sevens[0])
    line[16:44, 38:66] = np.maximum(line[16:44, 38:66], sevens[1])   # 8 px along: touching
    big = np.asarray(Image.fromarray(line).resize((480, 240), Image.Resampling.BICUBIC))

    def wide(X):
        img = X.reshape(-1, 28, 28) > 0
        return np.array([np.ptp(np.flatnonzero(m.any(0))) > np.ptp(np.flatnonzero(m.any(1))) for m in img])

    def classify(X):
        p = np.full((len(X), 10), 0.01, np.float32)
        p[:, 7] = np.where(wide(X), 0.91, 0.5)
        return p / p.sum(1, keepdims=True)

    def several(X):
        return np.where(wide(X), np.log(1e-4), np.log(0.95))

    return SimpleNamespace(photo=(255 * (1 - np.clip(big, 0, 1))).astype(np.uint8), wide=wide,
                           classify=classify, several=several)


@pytest.fixture(scope="session")
def mnist_test(mnist_dir):
    from recipes import idx

    X, y = idx.read_pair(mnist_dir / "t10k-images-idx3-ubyte.gz",
                         mnist_dir / "t10k-labels-idx1-ubyte.gz")
    return X.reshape(len(X), -1), y


@pytest.fixture(scope="session")
def slice2000(mnist_train, mnist_test):
    """2,000 training images, 500 validation images and 1,000 test images."""
    X, y = mnist_train
    Xt, yt = mnist_test
    return (X[:2000], y[:2000]), (X[2000:2500], y[2000:2500]), (Xt[:1000], yt[:1000])


def run_module(module: str, *args, cwd: Path, check: bool = False) -> subprocess.CompletedProcess:
    """Run `python -m module` as a user would, in `cwd`, with this repository importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if check and proc.returncode:
        raise AssertionError(proc.stderr)
    return proc


def run_in_process(module: str, *args, cwd: Path, monkeypatch, capsys) -> subprocess.CompletedProcess:
    """`python -m module` as run_module runs it, in this process (a second less: no imports):
    its `main` through `errors.run`, with `sys.argv` and the working directory set."""
    import importlib

    from recipes.errors import run
    main = importlib.import_module(module).main
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", [module, *map(str, args)])
    capsys.readouterr()
    try:
        run(main)
        code = 0
    except SystemExit as e:
        code = 0 if e.code is None else e.code if isinstance(e.code, int) else 1  # as Python exits
    out = capsys.readouterr()
    return subprocess.CompletedProcess([module, *map(str, args)], code, out.out, out.err)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """A user's mistake: non-zero exit and one line on stderr naming what is wrong."""
    assert proc.returncode != 0, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def write_params(folder: Path, text: str) -> None:
    """params.yaml with `text` (YAML sections) and the one model entry every file needs."""
    (folder / "params.yaml").write_text(text + "\ntrain: {models: [m]}\nmodels: {m: {kind: logistic}}\n")


def no_tmp_files(folder: Path) -> bool:
    return not any(p.name.endswith(".tmp") for p in folder.rglob("*"))


__all__ = ["ROOT", "run_module", "assert_one_line_error", "no_tmp_files", "write_params", "np"]
