"""The server under a bounded load, beside the same model in-process, measured in one run.

    python benchmarks/serve.py [--model network3_2conv] [--models-dir models] [--clients 16]
                               [--seconds 20] [--batch 64] [--mnist DIR]

Starts `python -m recipes.serve` on a free loopback port, then for each load: one client
(latency alone) and --clients concurrent clients (throughput), each sending requests back
to back for the time given, on keep-alive connections (raw sockets, all driven by one
thread of this process, so that the load costs the shared cores little):

    png        a drawn digit (an MNIST test digit as the page's pad sends it: 280x280 PNG)
    pixels     one MNIST image as JSON to /predict/pixels
    batch      --batch images as JSON to /predict/pixels (one forward pass)

and prints requests/s, images/s, p50 and p99 latency, errors, and the CPU time per request
of the server and of the clients, after in-process figures for one image: `predict_proba`,
the server's forward pass, and the whole photo path. Stops the server itself. Goals (issue 19, 2-core CPU, network3_2conv): p50 <= 10 ms for one drawn
digit, zero errors, and single-image throughput at least half the in-process rate.
The clients run in this process, on the same cores as the server: the figures are a floor.
The server gathers concurrent single-image requests into one forward pass (recipes.serve's
Batcher); the in-process figure is one image a call, as a program would call it.
"""

from __future__ import annotations

import argparse
import http.client
import io
import itertools
import json
import os
import selectors
import socket
import subprocess
import sys
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


def in_process(model_name: str, models_dir: Path, X: np.ndarray, pngs: list[bytes], seconds: float) -> dict:
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
    # the same drawn digits as the server's load, in turn: one PNG over and over (warm
    # caches, the same branches) flattered the in-process figure (docs/serve.md)
    turn = itertools.cycle(pngs)
    out["PNG decode + preprocess + forward, 1 thread"] = per_call(
        lambda: serve.read_image(next(turn), served, serve.MAX_PIXELS, False), seconds)
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

    def cpu_seconds(self) -> float:
        """The server process's CPU time so far (user + system, all its threads; Linux)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return float("nan")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Conn:
    """One keep-alive connection on a raw socket: requests written as prepared bytes, answers
    read by their Content-Length (the server always sends one). Cheaper than http.client,
    which matters: the clients share the cores with the server."""

    def __init__(self, port: int):
        self.port = port
        self.open()

    def open(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def reopen(self) -> None:
        self.sock.close()
        self.open()

    def answer(self) -> tuple[int, bytes] | None:
        """(status, body) once a whole answer is in the buffer, else None (read more)."""
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = self.buf[:head_end].decode("latin-1").split("\r\n")
        length = next((int(h.split(":", 1)[1]) for h in head[1:]
                       if h.lower().startswith("content-length:")), None)
        if length is None:
            raise ValueError("an answer without Content-Length")
        end = head_end + 4 + length
        if len(self.buf) < end:
            return None
        body, self.buf = self.buf[head_end + 4:end], self.buf[end:]
        return int(head[0].split()[1]), body


def prepare(requests: list[tuple[str, bytes, str, object]]) -> list[tuple[bytes, object]]:
    return [(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
             f"Content-Length: {len(body)}\r\n\r\n".encode() + body, want)
            for path, body, ctype, want in requests]


def load(port: int, requests: list[tuple[str, bytes, str, object]], clients: int,
         seconds: float) -> dict:
    """`clients` keep-alive connections, each sending its next request as soon as the last
    answer is in, for `seconds`; every answer checked. One thread drives them all (a
    selector): the load generator's own cost stays small on the cores it shares."""
    reqs = prepare(requests)
    conns = [Conn(port) for _ in range(clients)]
    sel = selectors.DefaultSelector()
    state = {}  # conn -> (index of its request, time sent)
    lat, errors = [], 0

    def send(c: Conn, i: int) -> None:
        state[c] = (i, time.perf_counter())
        c.sock.sendall(reqs[i % len(reqs)][0])

    t0 = time.perf_counter()
    stop = t0 + seconds
    for k, c in enumerate(conns):
        sel.register(c.sock, selectors.EVENT_READ, c)
        send(c, k)
    while state:
        events = sel.select(timeout=60)
        if not events:
            raise UserError("no answer from the server for 60 s")
        for key, _ in events:
            c = key.data
            i, sent = state[c]
            try:
                data = c.sock.recv(1 << 16)
                if not data:
                    raise ConnectionError("closed by the server")
                c.buf += data
                got = c.answer()
                if got is None:
                    continue
                status, body = got
                ok = status == 200 and json.loads(body)["digits"] == reqs[i % len(reqs)][1]
            except (OSError, ValueError, KeyError):
                ok = False
                sel.unregister(c.sock)
                c.reopen()
                sel.register(c.sock, selectors.EVENT_READ, c)
            now = time.perf_counter()
            lat.append(now - sent)
            errors += not ok
            if now < stop:
                send(c, i + clients)
            else:
                del state[c]
    wall = time.perf_counter() - t0
    for c in conns:
        sel.unregister(c.sock)
        c.sock.close()
    all_lat = np.array(lat) if lat else np.zeros(1)
    return {"requests": len(lat), "rps": len(lat) / wall, "errors": errors,
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
    ap.add_argument("--loads", default="png,pixels,batch", help="which loads (default: %(default)s)")
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
    inproc = in_process(args.model, args.models_dir, X, pngs, 3)
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
    print("\nserver on loopback; the clients in this process, one thread, on the same cores "
          "(server, clients: CPU ms per request):")
    print(f"  {'load':14s} {'clients':>7s} {'requests':>9s} {'req/s':>8s} {'images/s':>9s} "
          f"{'p50 ms':>8s} {'p99 ms':>8s} {'errors':>7s} {'server':>9s} {'clients':>9s}")
    results = {}
    with Server(args.model, args.models_dir) as server:
        for name, reqs in loads.items():
            if name.split()[0] not in args.loads.split(","):
                continue
            per = args.batch if name.startswith("batch") else 1
            for clients in ([1, args.clients] if per == 1 else [args.clients]):
                secs = args.latency_seconds if clients == 1 else args.seconds
                cpu0, own0 = server.cpu_seconds(), time.process_time()
                r = results[name, clients] = load(server.port, reqs, clients, secs)
                cpu = (server.cpu_seconds() - cpu0) / r["requests"] * 1e3
                own = (time.process_time() - own0) / r["requests"] * 1e3
                print(f"  {name:14s} {clients:7d} {r['requests']:9d} {r['rps']:8.0f} "
                      f"{r['rps'] * per:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['errors']:7d}"
                      f" {cpu:9.3f} {own:9.3f}", flush=True)
    if not {("png", 1), ("pixels", 1), ("pixels", args.clients)} <= results.keys():
        return
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
