"""The server under a bounded load, beside the same model in-process, measured in one run.

    python benchmarks/serve.py [--model network3_2conv] [--models-dir models] [--clients 16]
                               [--seconds 20] [--batch 64] [--mnist DIR]

Starts `python -m recipes.serve` on a free loopback port, then for each load: one client
(latency alone) and --clients concurrent clients (throughput), each sending requests back
to back for the time given, on keep-alive connections:

    png        a drawn digit (an MNIST test digit as the page's pad sends it: 280x280 PNG)
    pixels     one MNIST image as JSON to /predict/pixels
    batch      --batch images as JSON to /predict/pixels (one forward pass)

and prints requests/s, images/s, p50 and p99 latency and errors, after in-process figures
for one image: `predict_proba`, the server's forward pass, and the whole photo path. Stops
the server itself. Goals (issue 19, 2-core CPU, network3_2conv): p50 <= 10 ms for one drawn
digit, zero errors, and single-image throughput at least half the in-process rate.
The clients run in this process, on the same cores as the server: the figures are a floor.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recipes import idx, models  # noqa: E402
from recipes.errors import UserError, run  # noqa: E402


def test_digits(mnist: Path | None, n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    for folder in ([mnist] if mnist else [ROOT / "data" / "raw", ROOT.parent / "shared" / "data" / "mnist"]):
        images = folder / "t10k-images-idx3-ubyte.gz"
        if images.exists():
            X, y = idx.read_pair(images, folder / "t10k-labels-idx1-ubyte.gz")
            return X[:n].reshape(n, -1), y[:n]
    raise UserError("MNIST test files not found (give --mnist DIR with t10k-images-idx3-ubyte.gz)")


def drawn_png(x784: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(255 - np.kron(x784.reshape(28, 28), np.ones((10, 10), np.uint8))).save(buf, "PNG")
    return buf.getvalue()


def per_call(fn, seconds: float) -> np.ndarray:
    """Seconds per call of fn(), called back to back for about `seconds`."""
    for _ in range(5):
        fn()
    times, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return np.array(times)


def in_process(model_name: str, models_dir: Path, X: np.ndarray, png: bytes, seconds: float) -> dict:
    import torch
    from recipes import serve
    model = models.load_trained(model_name, models_dir)
    fast = serve.fast_proba(model)
    served = serve.Served(model_name, model.kind, fast, None, None)
    one = X[:1].copy()
    out = {}
    for threads in (torch.get_num_threads(), 1):
        torch.set_num_threads(threads)
        out[f"predict_proba, 1 image, {threads} thread(s)"] = per_call(lambda: model.predict_proba(one), seconds)
    # the server's settings: one torch thread a request
    out["server's forward pass, 1 image, 1 thread"] = per_call(lambda: fast(one), seconds)
    out["PNG decode + preprocess + forward, 1 thread"] = per_call(
        lambda: serve.read_image(png, served, serve.MAX_PIXELS, False), seconds)
    return out


class Server:
    """`python -m recipes.serve` on a free loopback port, for the length of a `with`."""

    def __init__(self, model: str, models_dir: Path):
        with socket.socket() as s:  # a free port: bound by the system, then let go
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.cmd = [sys.executable, "-m", "recipes.serve", "--model", model,
                    "--models-dir", str(models_dir), "--port", str(self.port)]

    def __enter__(self):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(self.cmd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise UserError(f"the server did not start: {self.proc.stderr.read().strip()}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        raise UserError("the server did not answer /health within 120 s")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def load(port: int, requests: list[tuple[str, bytes, str, object]], clients: int,
         seconds: float) -> dict:
    """`clients` threads sending requests back to back for `seconds`; each answer checked."""
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    stop = [0.0]

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.wait()
        i = k
        while time.perf_counter() < stop[0]:
            path, body, ctype, want = requests[i % len(requests)]
            i += 1
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body, {"Content-Type": ctype})
                res = conn.getresponse()
                answer = res.read()
                ok = res.status == 200 and json.loads(answer)["digits"] == want
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            lat[k].append(time.perf_counter() - t0)
            errors[k] += not ok
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    stop[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    all_lat = np.concatenate([np.array(x) for x in lat]) if any(lat) else np.zeros(1)
    return {"requests": len(all_lat), "rps": len(all_lat) / wall, "errors": sum(errors),
            "p50": np.percentile(all_lat, 50) * 1e3, "p99": np.percentile(all_lat, 99) * 1e3}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="network3_2conv")
    ap.add_argument("--models-dir", type=Path, default=Path("models"))
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20, help="each concurrent load (default: %(default)s)")
    ap.add_argument("--latency-seconds", type=float, default=5, help="each one-client load")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--mnist", type=Path, help="folder of the MNIST IDX files")
    args = ap.parse_args(argv)
    if args.model not in models.trained(args.models_dir):
        raise UserError(f"model {args.model!r} is not trained in {args.models_dir}/ "
                        f"(run `dvc repro train@{args.model}`, or give --model/--models-dir)")
    X, _ = test_digits(args.mnist)
    # what the model answers in-process is what the server must answer: errors count misreads
    # too. Drawings that the reader finds no single digit on are left out of the load.
    from recipes import serve
    proba = serve.fast_proba(models.load_trained(args.model, args.models_dir))
    served = serve.Served(args.model, "", proba, None, None)
    want = proba(X).argmax(1)
    pngs, want_png = [], []
    for x in X:
        png = drawn_png(x)
        try:
            answer = serve.read_image(png, served, serve.MAX_PIXELS, False)
        except serve.ClientError:
            continue
        if len(answer["digits"]) == 1:
            pngs.append(png)
            want_png.append(answer["digits"])
        if len(pngs) == 64:
            break

    print(f"in-process, {args.model}:")
    inproc = in_process(args.model, args.models_dir, X, pngs[0], 3)
    for what, t in inproc.items():
        print(f"  {what:48s} median {np.median(t) * 1e3:7.3f} ms   {1 / t.mean():8.0f} calls/s")
    best_single = max(1 / t.mean() for what, t in inproc.items() if what.startswith("predict_proba"))
    q = f"?model={args.model}"
    loads = {
        "png": [(f"/predict{q}", p, "image/png", w) for p, w in zip(pngs, want_png)],
        "pixels": [(f"/predict/pixels{q}", json.dumps({"pixels": x.tolist()}).encode(),
                    "application/json", [int(w)]) for x, w in zip(X[:64], want)],
        f"batch of {args.batch}": [(f"/predict/pixels{q}", json.dumps(
            {"pixels": np.roll(X, -k * args.batch, 0)[:args.batch].tolist()}).encode(),
            "application/json", np.roll(want, -k * args.batch)[:args.batch].tolist()) for k in range(4)],
    }
    print(f"\nserver on loopback; the clients in this process, on the same cores:")
    print(f"  {'load':14s} {'clients':>7s} {'requests':>9s} {'req/s':>8s} {'images/s':>9s} "
          f"{'p50 ms':>8s} {'p99 ms':>8s} {'errors':>7s}")
    results = {}
    with Server(args.model, args.models_dir) as server:
        for name, reqs in loads.items():
            per = args.batch if name.startswith("batch") else 1
            for clients in ([1, args.clients] if per == 1 else [args.clients]):
                secs = args.latency_seconds if clients == 1 else args.seconds
                r = results[name, clients] = load(server.port, reqs, clients, secs)
                print(f"  {name:14s} {clients:7d} {r['requests']:9d} {r['rps']:8.0f} "
                      f"{r['rps'] * per:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['errors']:7d}",
                      flush=True)
    p50 = results["png", 1]["p50"]
    errors = sum(r["errors"] for r in results.values())
    rate = max(results["pixels", 1]["rps"], results["pixels", args.clients]["rps"])
    print("\ngoals:")
    print(f"  one drawn digit, p50 {p50:.2f} ms (<= 10 ms): {'met' if p50 <= 10 else 'NOT met'}")
    print(f"  errors {errors} (zero): {'met' if errors == 0 else 'NOT met'}")
    print(f"  single-image requests {rate:.0f}/s against in-process predict_proba {best_single:.0f}/s, "
          f"{rate / best_single:.2f} of it (>= 0.5): {'met' if rate >= best_single / 2 else 'NOT met'}")


if __name__ == "__main__":
    run(main)
