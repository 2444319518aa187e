"""preprocess.page's results, saved once and compared after a change: every input, box,
line, rejection and the page's arrays must stay bit-identical.

    python benchmarks/preprocess_check.py save  FILE   # the reference
    python benchmarks/preprocess_check.py check FILE   # compare; exit 1 on any difference
    python benchmarks/preprocess_check.py time         # CPU ms per drawn digit (process_time)

Pages: 300 drawn MNIST test digits (benchmarks/serve.py's drawn_png, decoded as the server
decodes), the photos in ../shared/data/handwriting (single, multi) and up to 60 of
data/photos_dev; photos also with a fixed stand-in classifier, so the cut choices run.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from recipes import serve  # noqa: E402
from recipes.errors import UserError  # noqa: E402
from recipes.handwriting import preprocess  # noqa: E402
from serve import drawn_png, test_digits  # noqa: E402

W = np.random.default_rng(0).standard_normal((784, 10))


def stand_in(X):
    z = np.asarray(X, np.float64) @ W / 2550.0
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def pages():
    X, _ = test_digits(None, 300)
    for i, x in enumerate(X):
        yield f"drawn/{i}", serve.decode(drawn_png(x), serve.MAX_PIXELS)[0], False
    shared = ROOT.parent / "shared" / "data" / "handwriting"
    photos = sorted((shared / "single").glob("*")) + sorted((shared / "multi").glob("*"))
    dev = ROOT / "data" / "photos_dev"
    if dev.is_dir():
        photos += sorted(p for p in dev.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:60]
    for p in photos:
        if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"):
            for cls in (False, True):
                yield str(p.relative_to(ROOT.parent)), str(p), cls


def digest(a):
    a = np.ascontiguousarray(a)
    return (a.dtype.str, a.shape, hashlib.sha256(a.tobytes()).hexdigest())


def result(source, cls):
    try:
        pg = preprocess.page(source, stand_in if cls else None)
    except UserError as e:
        return ("error", str(e))
    return {"X": pg.X.copy(), "boxes": list(pg.boxes), "lines": pg.lines, "rejected": pg.rejected,
            "specks": pg.specks, "height": pg.height, "angle": pg.angle, "dark": pg.dark_ink,
            "threshold": pg.threshold, "gray": digest(pg.gray), "ink": digest(pg.ink),
            "mask": digest(pg.mask)}


def same(a, b):
    if isinstance(a, dict) != isinstance(b, dict):
        return ["kind"]
    if not isinstance(a, dict):
        return [] if a == b else ["error"]
    bad = []
    for k in a:
        if k == "X":
            if a[k].shape != b[k].shape or not np.array_equal(a[k], b[k]):
                bad.append(k)
        elif a[k] != b[k]:
            bad.append(k)
    return bad


def main(argv):
    if argv[0] == "time":
        from threadpoolctl import threadpool_limits
        threadpool_limits(1, user_api="blas")  # as the server runs it
        X, _ = test_digits(None, 300)
        arrays = [serve.decode(drawn_png(x), serve.MAX_PIXELS)[0] for x in X[:100]]
        for a in arrays[:5]:
            try:
                preprocess.page(a)
            except UserError:
                pass
        best = []
        for _ in range(int(argv[1]) if len(argv) > 1 else 3):
            t0 = time.process_time()
            for a in arrays:
                try:
                    preprocess.page(a)
                except UserError:
                    pass
            best.append((time.process_time() - t0) / len(arrays) * 1e3)
        print("CPU ms per drawn digit (process_time), runs:", " ".join(f"{t:.2f}" for t in best),
              f" min {min(best):.2f}")
        return 0
    mode, path = argv
    t0 = time.process_time()
    got = {(name, cls): result(src, cls) for name, src, cls in pages()}
    print(f"{len(got)} pages in {time.process_time() - t0:.1f} s CPU")
    if mode == "save":
        Path(path).write_bytes(pickle.dumps(got))
        return 0
    ref = pickle.loads(Path(path).read_bytes())
    bad = 0
    for key in ref:
        d = same(ref[key], got.get(key)) if key in got else ["missing"]
        if d:
            bad += 1
            print("DIFFERS", key, d)
    print(f"{len(ref)} reference pages, {bad} differ")
    return 1 if bad or len(got) != len(ref) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
