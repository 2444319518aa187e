"""The HTTP API (recipes.serve) and the ONNX export (recipes.export).

A small CNN trained here on 4,000 MNIST images (~96%) and a logistic regression, saved in a
temporary project; the digits asked for are ones the torch model reads right, so that the
tests check the server's path, not the model. tests/test_browser.py uses the same project.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error, no_tmp_files, run_module
from recipes import models, serve
from recipes.errors import UserError

CNN = {
    "kind": "net", "precision": "fp32", "epochs": 4, "batch_size": 64, "optimizer": "adam", "lr": 0.002, "seed": 0,
    "device": "cpu",
    "layers": [{"type": "conv", "num_filters": 12, "filter_size": 5, "nonlinearity": "relu"},
               {"type": "pool", "pool_size": 2},
               {"type": "conv", "num_filters": 24, "filter_size": 5, "nonlinearity": "relu"},
               {"type": "pool", "pool_size": 2},
               {"type": "dense", "num_units": 64, "nonlinearity": "relu"},
               {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}],
}
LOGISTIC = {"kind": "logistic", "C": 0.1, "max_iter": 30, "seed": 0}
_PROJECT: dict = {}


def save(model, folder):
    """models.save(model, dir) where the refactor has it, else the method it replaces."""
    if hasattr(models, "save"):
        models.save(model, folder, name=folder.name)
    else:
        model.save(folder)


def make_project(tmp_path_factory, mnist_train):
    """models/t (the CNN) and models/lin, with reports/t/metrics.json: trained once a session."""
    if "root" not in _PROJECT:
        import torch
        root = tmp_path_factory.mktemp("serve")
        X, y = mnist_train
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a small net on a busy machine: one thread is fastest
        try:
            cnn = models.create("t", CNN).fit(X[:4000], y[:4000])
        finally:
            torch.set_num_threads(threads)
        save(cnn, root / "models" / "t")
        save(models.create("lin", LOGISTIC).fit(X[:1000], y[:1000]), root / "models" / "lin")
        (root / "reports" / "t").mkdir(parents=True)
        (root / "reports" / "t" / "metrics.json").write_text(
            json.dumps({"accuracy": 0.9575, "n_params": sum(p.numel() for p in cnn.net_.parameters())}))
        _PROJECT["root"] = root
    return _PROJECT["root"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, mnist_train):
    return make_project(tmp_path_factory, mnist_train)


@pytest.fixture(scope="module")
def cnn(project):
    return models.load(project / "models" / "t")


@pytest.fixture(scope="module")
def client(project):
    from fastapi.testclient import TestClient
    return TestClient(serve.create_app(project / "models", model="t"))


@pytest.fixture(scope="module")
def right(cnn, mnist_test):
    """For each class, test digits that the torch model reads right, drawn on the pad and read
    in-process by the reader as that one digit: what the server must then answer too."""
    from recipes.handwriting import preprocess
    Xt, yt = mnist_test
    ok = np.flatnonzero(cnn.predict(Xt[:1000]) == yt[:1000])
    picks = {}
    for d in range(10):
        picks[d] = []
        for i in ok[yt[ok] == d]:
            try:
                page = preprocess.page(drawn(Xt[i]))
            except UserError:
                continue
            if len(page.X) == 1 and cnn.predict(page.X)[0] == d:
                picks[d].append(i)
                if len(picks[d]) == 3:
                    break
        assert picks[d], f"no {d} among 1,000 test digits read right in-process"
    return picks


# ---- images ------------------------------------------------------------------------------

def encode(gray: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, format=fmt, **kw)
    return buf.getvalue()


def drawn(x784: np.ndarray, scale: int = 10) -> np.ndarray:
    """An MNIST digit as the page's pad sends it: dark strokes on white, 280x280."""
    return 255 - np.kron(x784.reshape(28, 28), np.ones((scale, scale), np.uint8))


def strip(digits: list[np.ndarray], scale: int = 3, gap: int = 14, margin: int = 40):
    """MNIST digits written side by side, dark on light paper: (page, (x0, x1) per digit)."""
    big = [drawn(d, scale) for d in digits]
    h = big[0].shape[0]
    page = np.full((h + 2 * margin, sum(b.shape[1] + gap for b in big) + 2 * margin), 255, np.uint8)
    spans, x = [], margin
    for b in big:
        page[margin:margin + h, x:x + b.shape[1]] = b
        spans.append((x, x + b.shape[1]))
        x += b.shape[1] + gap
    return (page * 0.9).astype(np.uint8) + 10, spans  # paper a little grey


def png_header(width: int, height: int) -> bytes:
    """A PNG that says it is width x height and holds nothing: a decompression bomb's header."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def post_image(client, data: bytes, query: str = "", **kw):
    return client.post("/predict" + query, content=data, headers={"Content-Type": "image/png"}, **kw)


# ---- the API -----------------------------------------------------------------------------

def test_health_and_models(client):
    assert client.get("/health").json() == {"status": "ok", "models": 2, "default": "t"}
    listed = client.get("/models").json()
    assert listed["default"] == "t"
    by_name = {m["name"]: m for m in listed["models"]}
    assert by_name["t"]["accuracy"] == 0.9575 and by_name["t"]["n_params"] > 10000
    assert by_name["t"]["default"] and not by_name["lin"]["default"]
    assert by_name["lin"]["accuracy"] is None and by_name["lin"]["n_params"] == 7850  # no report


FORMATS = [("PNG", {}), ("JPEG", {"quality": 95}), ("WEBP", {"lossless": True}), ("BMP", {}),
           ("GIF", {})]


def test_one_digit_of_each_class_reads_back(client, right, mnist_test):
    Xt, _ = mnist_test
    for d in range(10):
        fmt, kw = FORMATS[d % len(FORMATS)]
        img = drawn(Xt[right[d][0]])
        r = post_image(client, encode(img, fmt, **kw), "?inputs=true")
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["digits"] == str(d), (fmt, got["digits"])
        assert got["model"] == "t" and (got["width"], got["height"]) == (280, 280)
        p = np.array(got["probabilities"])
        assert p.shape == (1, 10) and abs(p.sum() - 1) < 1e-4 and p.argmax() == d
        assert got["unsure"] == ([0] if p.max() < 0.9 else [])  # the reader's CONFIDENT
        x0, y0, x1, y1 = got["boxes"][0]
        rows, cols = np.nonzero(img < 128)  # the box is round the ink, in the image's pixels
        assert abs(x0 - cols.min()) <= 12 and abs(x1 - cols.max()) <= 12
        assert abs(y0 - rows.min()) <= 12 and abs(y1 - rows.max()) <= 12
        seen = np.asarray(Image.open(io.BytesIO(base64.b64decode(got["inputs"][0]))))
        assert seen.shape == (28, 28) and seen.max() == 255 and seen[0].max() == 0


def test_a_photos_one_mark_read_as_no_digit_is_a_422_but_a_drawing_is_read(right, mnist_test):
    """The reader's rule (read.lone_mark): a photo's only mark that the model reads as no
    digit in particular is "no digits found"; the same digit drawn on the pad is read."""
    Xt, _ = mnist_test
    vague = serve.Served("vague", "net", lambda X: np.full((len(X), 10), 0.1, np.float32), None, None)
    pad = drawn(Xt[right[7][0]])
    assert serve.read_image(encode(pad), vague, 10**7, False)["unsure"] == [0]
    grain = np.random.default_rng(0).normal(0, 6, pad.shape)
    photo = np.clip(pad * 0.85 + 20 + grain, 0, 255).astype(np.uint8)  # paper with a grain
    with pytest.raises(serve.ClientError) as e:
        serve.read_image(encode(photo), vague, 10**7, False)
    assert e.value.status == 422 and e.value.detail.startswith("no digits found")


def test_a_gif_is_read_from_its_first_frame(client, right, mnist_test):
    Xt, _ = mnist_test
    first = Image.fromarray(drawn(Xt[right[3][0]]))
    second = Image.fromarray(drawn(Xt[right[8][0]]))
    buf = io.BytesIO()
    first.save(buf, format="GIF", save_all=True, append_images=[second], duration=100)
    assert post_image(client, buf.getvalue()).json()["digits"] == "3"


def test_multipart_upload_and_model_choice(client, right, mnist_test):
    Xt, _ = mnist_test
    data = encode(drawn(Xt[right[4][0]]))
    r = client.post("/predict?model=lin", files={"file": ("four.png", data, "image/png")})
    assert r.status_code == 200 and r.json()["model"] == "lin"
    assert "inputs" not in r.json()  # only when asked for


def test_a_strip_reads_as_its_string_with_boxes_on_each_digit(client, right, mnist_test):
    Xt, _ = mnist_test
    number = "0429"  # a leading zero stays
    page, spans = strip([Xt[right[int(c)][0]] for c in number])
    got = post_image(client, encode(page)).json()
    assert got["digits"] == number
    assert len(got["boxes"]) == len(number)
    for (x0, _, x1, _), (s0, s1) in zip(got["boxes"], spans):
        assert s0 - 4 <= x0 and x1 <= s1 + 4  # each box on its own digit, left to right


def test_boxes_of_a_slanted_line_land_on_its_digits(client, right, mnist_test):
    """preprocess levels a line written uphill; the boxes come back on the photo as sent."""
    Xt, _ = mnist_test
    number = "3150"
    page, _ = strip([Xt[right[int(c)][-1]] for c in number])
    tilted = np.asarray(Image.fromarray(page).rotate(25, expand=True, fillcolor=235))
    got = post_image(client, encode(tilted)).json()
    assert got["digits"] == number
    ink = tilted < 128
    inside = np.zeros_like(ink)
    for x0, y0, x1, y1 in got["boxes"]:
        assert ink[y0:y1, x0:x1].mean() > 0.05  # each box holds ink, not paper
        inside[y0:y1, x0:x1] = True
    assert (ink & inside).sum() >= 0.95 * ink.sum()  # and together they hold it all


def test_pixels_in_every_shape_match_the_model(client, cnn, mnist_test):
    Xt, yt = mnist_test
    want = cnn.predict_proba(Xt[:5])
    for pixels, n in [(Xt[0].tolist(), 1), (Xt[0].reshape(28, 28).tolist(), 1),
                      (Xt[:5].tolist(), 5), (Xt[:5].reshape(5, 28, 28).tolist(), 5)]:
        r = client.post("/predict/pixels", json={"pixels": pixels})
        assert r.status_code == 200, r.text
        got = r.json()
        assert np.allclose(got["probabilities"], want[:n], atol=1e-5)
        assert got["digits"] == want[:n].argmax(1).tolist()
    floats = client.post("/predict/pixels?model=lin", json={"pixels": (Xt[0] / 1.0).tolist()})
    assert floats.status_code == 200 and floats.json()["model"] == "lin"


def test_a_batch_is_one_forward_pass(project, monkeypatch, mnist_test):
    from fastapi.testclient import TestClient
    calls, fast = [], serve.fast_proba

    def counting(model):
        proba = fast(model)
        return lambda X: calls.append(len(X)) or proba(X)

    monkeypatch.setattr(serve, "fast_proba", counting)
    c = TestClient(serve.create_app(project / "models"))
    Xt, _ = mnist_test
    assert c.post("/predict/pixels?model=t", json={"pixels": Xt[:300].tolist()}).status_code == 200
    assert calls == [300]


# ---- bad input ---------------------------------------------------------------------------

BLANK_PNG = encode(drawn(np.zeros(784, np.uint8)))  # the model is checked before the image
PIXEL = "/predict/pixels"
BAD = [
    ("/predict", b"", 400, "empty body"),
    ("/predict", b"hello, not an image", 415, "not an image"),
    ("/predict", b'{"pixels": [0]}', 415, "/predict/pixels"),
    ("/predict", encode(np.zeros((100, 100), np.uint8))[:60], 400, "broken"),
    ("/predict", png_header(100_000, 100_000), 413, "pixels"),                # a bomb's header
    ("/predict", encode(np.full((200, 300), 240, np.uint8)), 422, "no ink"),  # a blank page
    ("/predict", encode(np.zeros((5, 5), np.uint8)), 422, "too small"),
    ("/predict?model=nope", BLANK_PNG, 404, "not a trained model"),
    ("/predict?model=../t", BLANK_PNG, 404, "trained: lin, t"),
    ("/predict?model=", BLANK_PNG, 404, "not a trained model"),
    ("/predict?model=/etc/passwd", BLANK_PNG, 404, "not a trained model"),
    ("/predict?inputs=maybe", BLANK_PNG, 422, "inputs"),
    (PIXEL, b"", 400, "empty body"),
    (PIXEL, b"{not json", 400, "not JSON"),
    (PIXEL, b"[0, 1, 2]", 422, '{"pixels"'),
    (PIXEL, b'{"pixels": [1, 2, 3]}', 422, "shape [3]"),
    (PIXEL, b'{"pixels": []}', 422, "shape [0]"),
    (PIXEL, json.dumps({"pixels": [[0] * 784, [0] * 783]}).encode(), 422, "expected numbers"),
    (PIXEL, json.dumps({"pixels": ["0"] * 784}).encode(), 422, "expected numbers"),
    (PIXEL, json.dumps({"pixels": [True] * 784}).encode(), 422, "expected numbers"),
    (PIXEL, json.dumps({"pixels": [None] * 784}).encode(), 422, "expected numbers"),
    (PIXEL, json.dumps({"pixels": [256] * 784}).encode(), 422, "0..255"),
    (PIXEL, json.dumps({"pixels": [-1] * 784}).encode(), 422, "0..255"),
    (PIXEL, b'{"pixels": [' + b"NaN, " * 783 + b"NaN]}", 422, "0..255"),
    (PIXEL, json.dumps({"pixels": [[0] * 784] * (serve.MAX_BATCH + 1)}).encode(), 413, "limit"),
    ("/predict/pixels?model=x", json.dumps({"pixels": [0] * 784}).encode(), 404, "not a trained"),
    ("/predict/pixels?model=" + "x" * 101, json.dumps({"pixels": [0] * 784}).encode(), 422, "at most 100"),
    ("/predict?model=" + "x" * 101, BLANK_PNG, 422, "at most 100"),
]


@pytest.mark.parametrize("route, body, status, needle", BAD, ids=[f"{r} {n}" for r, _, _, n in BAD])
def test_bad_input_is_one_clear_json_error(client, route, body, status, needle):
    r = client.post(route, content=body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in detail
    assert needle in detail, detail


def test_wrong_method_and_route(client):
    assert client.get("/predict").status_code == 405
    assert client.get("/nothing").json() == {"detail": "Not Found"}


def test_limits_on_the_body_and_the_pixels(project):
    from fastapi.testclient import TestClient
    c = TestClient(serve.create_app(project / "models", max_bytes=5_000, max_pixels=50_000))
    big = np.random.default_rng(0).integers(0, 256, (100, 100), dtype=np.uint8)
    data = encode(big)  # noise: ~10 kB of PNG
    assert len(data) > 5_000
    declared = post_image(c, data)
    assert declared.status_code == 413 and "limit of 5,000 bytes" in declared.json()["detail"]

    def chunked():  # no Content-Length: the cap while reading is what stops it
        for i in range(0, len(data), 1000):
            yield data[i:i + 1000]
    streamed = c.post("/predict", content=chunked())
    assert streamed.status_code == 413
    wide = c.post("/predict", content=encode(np.full((10, 6000), 255, np.uint8)))
    assert wide.status_code == 413 and "6000x10 pixels" in wide.json()["detail"]


def test_hostile_bytes_never_make_a_500(client, right, mnist_test):
    """Truncations and corruptions of real images, and noise: always a 4xx, never a crash."""
    Xt, _ = mnist_test
    rng = np.random.default_rng(0)
    img = drawn(Xt[right[5][0]])
    samples = []
    for fmt, kw in FORMATS:
        data = encode(img, fmt, **kw)
        samples += [data[:n] for n in (8, 16, 40, 100, len(data) // 2, len(data) - 1)]
        for _ in range(4):  # a few bytes flipped past the header
            b = bytearray(data)
            at = rng.integers(20, len(b), 6)
            b[at[0]:at[0] + 1] = bytes([rng.integers(256)])
            for i in at[1:]:
                b[i] ^= 0xFF
            samples.append(bytes(b))
    samples += [rng.bytes(n) for n in (1, 10, 1000)]
    for data in samples:
        r = post_image(client, data)
        assert r.status_code < 500, (r.status_code, r.text)
        if r.status_code != 200:
            assert isinstance(r.json()["detail"], str)


# ---- a real server -----------------------------------------------------------------------

@contextlib.contextmanager
def running(app):
    """The app under uvicorn on a free loopback port, in a thread; stopped on exit."""
    import uvicorn
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.slow
def test_concurrent_requests_stay_correct(project, right, mnist_test):
    import httpx
    Xt, _ = mnist_test
    jobs = [(d, m) for d in range(10) for m in ("t", "lin")] * 3
    pngs = {d: encode(drawn(Xt[right[d][0]])) for d in range(10)}
    with running(serve.create_app(project / "models")) as url:
        def ask(job):
            d, m = job
            with httpx.Client(base_url=url, timeout=60) as c:
                img = c.post(f"/predict?model={m}", content=pngs[d]).json()
                px = c.post(f"/predict/pixels?model={m}", json={"pixels": Xt[right[d][0]].tolist()})
                return d, m, img, px.json()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, jobs))
        assert httpx.get(url + "/health").status_code == 200  # and still up
    for d, m, img, px in answers:
        assert img["model"] == px["model"] == m
        if m == "t":  # the CNN reads them right; the answer is each request's own
            assert img["digits"] == str(d) and px["digits"] == [d]


def test_concurrent_single_images_share_a_forward_pass(project, monkeypatch, mnist_test):
    """Requests that arrive while a forward pass runs are the next pass, together; each
    answer is its own image's, and nothing waits for a batch to fill."""
    import httpx
    calls, fast = [], serve.fast_proba

    def slow(model):  # a forward pass long enough for the other requests to queue behind it
        proba = fast(model)
        return lambda X: calls.append(len(X)) or time.sleep(0.05) or proba(X)

    monkeypatch.setattr(serve, "fast_proba", slow)
    Xt, _ = mnist_test
    want = models.load(project / "models" / "t").predict_proba(Xt[:12])
    with running(serve.create_app(project / "models", model="t")) as url:
        t0 = time.perf_counter()
        alone = httpx.post(url + "/predict/pixels", json={"pixels": Xt[0].tolist()}, timeout=30)
        assert alone.status_code == 200 and time.perf_counter() - t0 < 2
        calls.clear()

        def ask(k):
            with httpx.Client(base_url=url, timeout=60) as c:
                return k, c.post("/predict/pixels", json={"pixels": Xt[k].tolist()}).json()

        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(ask, range(12)))
    assert sum(calls) == 12 and len(calls) < 12, calls  # batched, every image once
    for k, a in answers:
        assert a["digits"] == [int(want[k].argmax())]
        assert np.allclose(a["probabilities"], want[k:k + 1], atol=1e-5)


def test_the_server_writes_nothing_to_the_project(project, client, right, mnist_test):
    def tree():
        return sorted((str(p), p.stat().st_mtime_ns) for p in project.rglob("*"))
    before = tree()
    Xt, _ = mnist_test
    post_image(client, encode(drawn(Xt[right[1][0]])), "?inputs=true")
    client.post("/predict", files={"file": ("x.png", encode(drawn(Xt[right[2][0]])), "image/png")})
    client.post(PIXEL, json={"pixels": Xt[:10].tolist()})
    assert tree() == before


def test_no_cors_unless_asked(project, client):
    from fastapi.testclient import TestClient
    origin = {"Origin": "http://elsewhere.example"}
    assert "access-control-allow-origin" not in client.get("/health", headers=origin).headers
    opened = TestClient(serve.create_app(project / "models", cors_origins=["http://elsewhere.example"]))
    r = opened.get("/health", headers=origin)
    assert r.headers["access-control-allow-origin"] == "http://elsewhere.example"
    for c, allowed in [(client, False), (opened, True)]:  # the route answered ahead of FastAPI's
        r = c.post(PIXEL + "?model=t", json={"pixels": [0] * 784}, headers=origin)
        assert r.status_code == 200 and ("access-control-allow-origin" in r.headers) == allowed


def test_page_and_docs_load_nothing_from_elsewhere(client):
    import re
    for route in ("/", "/docs"):
        r = client.get(route)
        assert r.status_code == 200 and "default-src 'self'" in r.headers["content-security-policy"]
        refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert refs and all(u.startswith("/") or u.startswith("data:") for u in refs), refs
        for u in refs:
            if u.startswith("/static/"):
                asset = client.get(u)
                assert asset.status_code == 200, u
                assert not re.search(r"https?://", asset.text), u  # no CDN, no fonts from afar
    spec = client.get("/openapi.json").json()
    assert {"/predict", "/predict/pixels", "/models", "/health"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/predict"]["post"]["requestBody"]["content"]


# ---- the command -------------------------------------------------------------------------

def test_cli_binds_to_loopback_and_refuses_an_unknown_model(project, monkeypatch):
    import torch
    import uvicorn
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    threads = torch.get_num_threads()
    try:
        serve.main(["--models-dir", str(project / "models")])
    finally:
        torch.set_num_threads(threads)  # the command sets one thread a request
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8000
    with pytest.raises(UserError, match="--model 'nope': not a trained model"):
        serve.main(["--models-dir", str(project / "models"), "--model", "nope"])


@pytest.mark.slow
def test_cli_without_models_says_so_in_one_line(tmp_path):
    proc = run_module("recipes.serve", "--models-dir", tmp_path / "none", cwd=tmp_path)
    assert_one_line_error(proc, "no trained models")


# ---- ONNX --------------------------------------------------------------------------------

@pytest.mark.slow
def test_onnx_agrees_with_torch_on_all_test_digits(project, cnn, mnist_test, tmp_path):
    import onnxruntime as ort
    from recipes import export
    out = tmp_path / "t.onnx"
    export.main(["t", "--onnx", "--models-dir", str(project / "models"), "--out", str(out)])
    assert no_tmp_files(tmp_path)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (inp,), (outp,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, outp.name) == ("pixels", "tensor(uint8)", "probabilities")
    Xt, _ = mnist_test
    got = session.run(None, {"pixels": Xt})[0]
    want = cnn.predict_proba(Xt)
    assert got.shape == (10000, 10)
    assert np.array_equal(got.argmax(1), want.argmax(1))
    assert np.abs(got - want).max() < 1e-4


def test_export_refuses_what_it_cannot_export(project):
    from recipes import export
    with pytest.raises(UserError, match="not a net"):
        export.main(["lin", "--onnx", "--models-dir", str(project / "models")])
    with pytest.raises(UserError, match="not a trained model"):
        export.main(["../t", "--onnx", "--models-dir", str(project / "models")])
    assert not (project / "models" / "lin" / "model.onnx").exists()
