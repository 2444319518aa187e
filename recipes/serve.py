"""The trained models behind an HTTP API, and a page to draw or photograph digits.

    python -m recipes.serve [--model NAME] [--host 127.0.0.1] [--port 8000]
    mnist-serve ...                                        # the same, as a console script

    POST /predict          an image (raw body, or multipart field `file`): the digits read
    POST /predict/pixels   JSON {"pixels": ...}: MNIST-format images -> probabilities
    GET  /models           the trained models, their test accuracy and size, the default
    GET  /health           GET /docs (the API, served locally)   GET / (the page)

Every trained model under `models/` is loaded once at start, by name, through
`models.load_trained`; a request picks one with `?model=NAME` and can name nothing else.
A photo goes through `recipes.handwriting.preprocess`, the reader's own code. A client's
mistake is a 4xx with `{"detail": "one line"}`; the server writes nothing to the project.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import logging
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import anyio
import numpy as np
import orjson
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.exceptions import HTTPException

from recipes import models, paths
from recipes.errors import UserError, run
from recipes.handwriting import preprocess, read

STATIC = Path(__file__).with_name("static")
MAX_BYTES = 10 * 2**20      # a request body larger than this is refused (413)
MAX_PIXELS = 40_000_000     # ...and an image with more pixels than this, before decoding it
MAX_BATCH = 1024            # images in one /predict/pixels request: one forward pass
DECODE_SIDE = 2000          # a photo is decoded at about this longer side at most: the reader
                            # works on a copy of at most 1000 px, so more is memory for nothing
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")  # never EPS & co., which call out to programs
SIDE = preprocess.SIDE
INLINE_BYTES = 8 * 4 * SIDE * SIDE  # /predict/pixels bodies up to about 8 images: on the loop
INLINE_ROWS = 64    # a forward pass of at most this many images runs on the event loop itself:
                    # on a worker thread one image cost 0.68 ms of CPU against 0.32 ms inline
                    # (the hand-over between cores: docs/serve.md), and 64 images take about
                    # 1 ms, a pause the other requests do not feel
# the page and the docs load nothing from elsewhere; data: for the 28x28 inputs, blob: for photos
CSP = ("default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
log = logging.getLogger("recipes.serve")


class ClientError(Exception):
    """A client's mistake: an HTTP status and one line saying what to fix."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


# ---- models ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Served:
    """A loaded model, read-only once the server runs: requests share nothing mutable."""

    name: str
    kind: str
    proba: Callable[[np.ndarray], np.ndarray]  # uint8 [N, 784] -> float32 [N, 10]
    accuracy: float | None
    n_params: int | None
    confident: float = read.CONFIDENT  # below it a digit is unsure (`read.confident_for` the model)


def fast_proba(model) -> Callable[[np.ndarray], np.ndarray]:
    """The model's own predict_proba, the project's one inference path; called once here so
    that a net prepares its inference module at load, not inside a request (afterwards the
    model is only read)."""
    model.predict_proba(np.zeros((1, 784), np.uint8))
    return model.predict_proba


def _metrics(reports: Path, name: str) -> dict:
    try:
        m = json.loads((reports / name / "metrics.json").read_text())
        return m if isinstance(m, dict) else {}
    except (OSError, ValueError):
        return {}


def load_models(models_dir: Path, reports_dir: Path) -> dict[str, Served]:
    names = models.trained(models_dir)
    if not names:
        raise UserError(f"no trained models in {models_dir}/ (run `dvc repro`, or give --models-dir)")
    served = {}
    for name in names:
        model = models.load_trained(name, models_dir)
        m = _metrics(reports_dir, name)
        acc = m.get("accuracy")
        n = m.get("n_params", getattr(model, "n_params_", None))
        served[name] = Served(name, getattr(model, "kind", type(model).__name__), fast_proba(model),
                              float(acc) if isinstance(acc, (int, float)) else None,
                              int(n) if isinstance(n, (int, float)) else None,
                              read.confident_for(model))
    return served


def pick_default(served: dict[str, Served], wanted: str | None) -> str:
    """--model, else the reader's default, else the best test accuracy, else the first."""
    if wanted is not None:
        if wanted not in served:
            raise UserError(f"--model {wanted!r}: not a trained model (trained: {', '.join(served)})")
        return wanted
    for name in read.DEFAULT_MODELS:
        if name in served:
            return name
    scored = [s for s in served.values() if s.accuracy is not None]
    return max(scored, key=lambda s: s.accuracy).name if scored else next(iter(served))


# ---- reading a request -------------------------------------------------------------------

async def read_body(request: Request, limit: int) -> bytes:
    """The body, never more than `limit` bytes held: the declared length first, then a cap."""
    declared = request.headers.get("content-length")
    too_big = ClientError(413, f"request body over the limit of {limit:,} bytes")
    if declared is not None:
        if not declared.isdigit():
            raise ClientError(400, "bad Content-Length header")
        if int(declared) > limit:
            raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


async def image_bytes(request: Request, limit: int) -> bytes:
    """The uploaded file: the raw body, or the field `file` of a multipart form."""
    body = await read_body(request, limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return body

    async def replay():  # the form parser reads the body we already hold, capped
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=8)
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ClientError(400, "multipart form without a file field named `file`")
        return await upload.read()
    finally:
        await form.close()


def decode(data: bytes, max_pixels: int) -> tuple[np.ndarray, tuple[int, int]]:
    """(pixels for preprocess, (width, height) as the user sees the image): the first frame,
    EXIF orientation applied, its size checked before a pixel is decoded."""
    if not data:
        raise ClientError(400, "empty body: send an image (PNG, JPEG, WebP, BMP or GIF)")
    # a hostile or broken file makes Pillow's parsers raise anything (struct.error, EOFError,
    # IndexError...): whatever it is, it is the file's fault, not the server's
    try:
        im = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise ClientError(415, "not an image: PNG, JPEG, WebP, BMP or GIF expected "
                               "(MNIST pixels as JSON go to /predict/pixels)") from None
    except Image.DecompressionBombError:
        raise ClientError(413, f"image over the limit of {max_pixels:,} pixels") from None
    except Exception as e:
        raise ClientError(400, f"a broken image ({e})") from None
    with im:
        w, h = im.size
        if w * h > max_pixels:
            raise ClientError(413, f"image of {w}x{h} pixels, over the limit of {max_pixels:,}")
        try:
            # a big JPEG decoded at a fraction of its size, anything else reduced after
            im.draft(im.mode, (DECODE_SIDE, DECODE_SIDE))
            im.load()
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # a quarter turn: w and h swap
                w, h = h, w
            factor = max(im.size) // DECODE_SIDE
            if factor >= 2:
                im = _plain(im).reduce(factor)
            return _array(ImageOps.exif_transpose(_plain(im))), (w, h)
        except Exception as e:
            raise ClientError(400, f"a broken or truncated image ({e})") from None


def _plain(im: Image.Image) -> Image.Image:
    """A mode that numpy and preprocess take: L, RGB, RGBA or 32-bit float."""
    if im.mode in ("L", "RGB", "RGBA", "F"):
        return im
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        return im.convert("I").convert("F")
    if im.mode in ("LA", "PA", "La") or "transparency" in im.info:
        return im.convert("RGBA")
    return im.convert("RGB")


def _array(im: Image.Image) -> np.ndarray:
    a = np.asarray(im)
    if a.dtype == np.float32:  # 16-bit gray: its own range, as preprocess does for files
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return a


def parse_pixels(body: bytes) -> np.ndarray:
    """uint8 [N, 784] from {"pixels": one image or a list}: 784 values or 28x28, 0..255."""
    if not body:
        raise ClientError(400, 'empty body: send JSON {"pixels": [...]}')
    try:
        doc = orjson.loads(body)  # a C parser: a digit's 784 numbers in microseconds
    except orjson.JSONDecodeError:
        try:  # what orjson refuses and Python's parser reads (NaN, integers over 64 bits) is
            doc = json.loads(body)  # then refused below for its values, as it always was
        except (ValueError, UnicodeDecodeError) as e:
            raise ClientError(400, f"not JSON ({e})") from None
    if not isinstance(doc, dict) or "pixels" not in doc:
        raise ClientError(422, 'expected a JSON object {"pixels": ...}')
    try:
        a = np.asarray(doc["pixels"])
    except (ValueError, TypeError):
        a = None
    if a is None or a.dtype.kind not in "iuf":  # ragged, strings, booleans, nulls, huge ints
        raise ClientError(422, "pixels: expected numbers, as 784 values, 28x28 rows, "
                               "or a list of such images")
    shape = a.shape
    if shape in ((SIDE * SIDE,), (SIDE, SIDE)):
        a = a.reshape(1, -1)
    elif len(shape) in (2, 3) and shape[1:] in ((SIDE * SIDE,), (SIDE, SIDE)) and shape[0] > 0:
        a = a.reshape(shape[0], -1)
    else:
        raise ClientError(422, f"pixels: shape {list(shape)} is not an image of 784 values or "
                               "28x28, nor a list of them")
    if len(a) > MAX_BATCH:
        raise ClientError(413, f"pixels: {len(a)} images, over the limit of {MAX_BATCH} a request")
    if not np.isfinite(a).all() or a.min() < 0 or a.max() > 255:
        raise ClientError(422, "pixels: values must be 0..255 (0 background, 255 ink, as MNIST)")
    return np.rint(a).astype(np.uint8)


# ---- answers -----------------------------------------------------------------------------

def unlevel(boxes: list, angle: float, shape: tuple[int, int]) -> np.ndarray:
    """Boxes found after preprocess levelled a slanted line (scipy's rotate, reshape=True)
    taken back to the working copy: the bounds of each box's corners turned back."""
    b = np.asarray(boxes, float).reshape(-1, 4)
    if not angle:
        return b
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    rot = np.array([[c, s], [-s, c]])  # output (row, col) -> input (row, col), as in scipy
    iy, ix = shape
    bounds = rot @ np.array([[0, 0, iy, iy], [0, ix, 0, ix]], float)
    out_shape = (np.ptp(bounds, axis=1) + 0.5).astype(int)
    offset = (np.array(shape) - 1) / 2 - rot @ ((out_shape - 1) / 2)
    corners = np.stack([b[:, [1, 0]], b[:, [1, 2]], b[:, [3, 0]], b[:, [3, 2]]], 1)  # (row, col)
    back = corners @ rot.T + offset
    return np.concatenate([back[..., ::-1].min(1), back[..., ::-1].max(1)], 1)


def png_base64(x28: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(x28).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def read_image(data: bytes, served: Served, max_pixels: int, inputs: bool) -> dict:
    pixels, (w, h) = decode(data, max_pixels)
    try:
        # without the classifier choosing cuts: on clean drawings it split single digits
        # (a drawn 5 read as 62); the reader's CLI passes it for photos
        page = preprocess.page(pixels)
        proba = served.proba(page.X)
        read.lone_mark(page, proba, served.confident)  # a photo's one mark read as no digit
    except UserError as e:
        raise ClientError(422, str(e)) from None
    boxes = unlevel(page.boxes, page.angle, page.gray.shape)
    gh, gw = page.gray.shape
    if page.region:  # small digits, read in a magnified region of the working copy
        y0, x0, f, (gh, gw) = page.region
        boxes = boxes / f + [x0, y0, x0, y0]
    boxes = boxes * [w / gw, h / gh, w / gw, h / gh]
    boxes = np.clip(np.rint(boxes), 0, [w, h, w, h]).astype(int)
    out = {"model": served.name, "digits": "".join(map(str, proba.argmax(1))),
           "probabilities": proba.tolist(), "unsure": read.unsure(proba, served.confident),
           "boxes": boxes.tolist(), "width": w, "height": h}
    if inputs:
        out["inputs"] = [png_base64(x) for x in page.inputs]
    return out


def pixels_answer(served: Served, proba: np.ndarray) -> dict:
    return {"model": served.name, "digits": proba.argmax(1).tolist(),
            "probabilities": np.ascontiguousarray(proba)}


class Batcher:
    """Concurrent /predict/pixels requests for one model gathered into one forward pass.

    A request queues its images and waits for its own rows of the answer. The pass runs when
    the event loop next turns to it, on everything queued by then (up to MAX_BATCH images):
    a small one on the loop itself (INLINE_ROWS), a large one on a worker thread, so that
    the loop goes on reading the requests that queue up for the next pass meanwhile. Nothing
    waits on purpose: a lone request is computed at once, and under load the batches grow by
    themselves. Requests share nothing but this queue; each
    gets a slice of the batch's probabilities (the same as a lone pass of its images, up to
    the last float digits that any batch size changes). The draining task ends when the
    queue is empty, so it never outlives the event loop that started it."""

    def __init__(self, proba: Callable[[np.ndarray], np.ndarray], limiter, max_rows: int = MAX_BATCH):
        self.proba, self.limiter, self.max_rows = proba, limiter, max_rows
        self.queue: list[tuple[np.ndarray, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def __call__(self, X: np.ndarray) -> np.ndarray:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.queue.append((X, fut))
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        while self.queue:
            take, rows = 0, 0
            while take < len(self.queue) and (take == 0 or rows + len(self.queue[take][0]) <= self.max_rows):
                rows += len(self.queue[take][0])
                take += 1
            batch, self.queue = self.queue[:take], self.queue[take:]
            X = batch[0][0] if take == 1 else np.concatenate([x for x, _ in batch])
            try:
                if rows <= INLINE_ROWS:
                    proba = self.proba(X)  # see INLINE_ROWS
                else:
                    proba = await anyio.to_thread.run_sync(self.proba, X, limiter=self.limiter)
            except BaseException as e:  # ours (or the loop closing): every waiter hears of it
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e if isinstance(e, Exception) else asyncio.CancelledError())
                if not isinstance(e, Exception):
                    raise
                continue
            k = 0
            for x, fut in batch:
                if not fut.done():  # a waiter that went away (its client hung up) is skipped
                    fut.set_result(proba[k:k + len(x)])
                k += len(x)


# ---- the app -----------------------------------------------------------------------------

IMAGE_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}},
    **{t: {"schema": {"type": "string", "format": "binary"}}
       for t in ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif")}}}}
PIXELS_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "required": ["pixels"], "properties": {"pixels": {
        "description": "one image (784 values, or 28 rows of 28) or a list of up to "
                       f"{MAX_BATCH} images; 0..255, 0 = background, 255 = ink",
        "type": "array", "items": {}}}},
    "example": {"pixels": [[0] * (SIDE * SIDE)]}}}}}
ERRORS = {s: {"description": d, "content": {"application/json": {"example": {"detail": "..."}}}}
          for s, d in [(400, "empty or broken body"), (404, "unknown model"),
                       (413, "body or image over the limits"), (415, "not an image"),
                       (422, "wrong JSON shape or values, or no ink on the image")]}
MODEL_NAME_MAX = 100
ModelName = Query(None, max_length=MODEL_NAME_MAX, description="a trained model (GET /models); default: "
                                                   "the server's")


class PixelsFirst:
    """ASGI middleware: `POST /predict/pixels` answered ahead of FastAPI's routing and its
    parameter solving, which cost the server more CPU than the forward pass of a digit
    (docs/serve.md). Everything else, and the route's OpenAPI entry, is FastAPI's; a client's
    mistake is the same 4xx JSON as from the route, a bug goes on to the app's 500 handler."""

    def __init__(self, app, handle: Callable):
        self.app, self.handle = app, handle  # handle(request, model name or None) -> dict

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != "/predict/pixels" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        request = Request(scope, receive)
        try:
            model = request.query_params.get("model")
            if model is not None and len(model) > MODEL_NAME_MAX:  # as the route's Query says
                raise ClientError(422, f"query model: String should have at most {MODEL_NAME_MAX} characters")
            response = answer(await self.handle(request, model))
        except ClientError as e:
            response = JSONResponse({"detail": e.detail}, e.status)
        await response(scope, receive, send)


def answer(doc: dict) -> Response:
    """JSON straight from the dict (numpy arrays as they are): FastAPI's encoder would walk
    every float in Python."""
    return Response(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")


def create_app(models_dir: str | Path = paths.MODELS, *, model: str | None = None,
               reports_dir: str | Path | None = None, max_bytes: int = MAX_BYTES,
               max_pixels: int = MAX_PIXELS, workers: int | None = None,
               cors_origins: list[str] | None = None) -> FastAPI:
    """The app with every trained model of `models_dir` loaded; `model` the default one."""
    models_dir = Path(models_dir)
    reports_dir = Path(reports_dir) if reports_dir else models_dir.parent / paths.REPORTS
    served = load_models(models_dir, reports_dir)
    default = pick_default(served, model)
    # CPU work (decoding, preprocessing, the forward pass) runs on at most this many threads:
    # bounded memory under load, and no more threads than cores fighting for them
    limiter = anyio.CapacityLimiter(workers or max(2, os.cpu_count() or 2))

    # FastAPI's own /docs loads Swagger UI from a CDN: ours is a local page over /openapi.json
    app = FastAPI(title="mnist-recipes", version="1", docs_url=None, redoc_url=None,
                  description="Read handwritten digits with the project's trained models.")
    batchers = {name: Batcher(s.proba, limiter) for name, s in served.items()}

    def pick(name: str | None) -> Served:
        if name is None:
            return served[default]
        if name not in served:
            raise ClientError(404, f"model {name!r}: not a trained model (trained: {', '.join(served)})")
        return served[name]

    async def pixels(request: Request, model: str | None) -> dict:
        m = pick(model)
        body = await read_body(request, max_bytes)
        if len(body) <= INLINE_BYTES:  # a digit or two: less work than the hop to a thread
            X = parse_pixels(body)
        else:
            X = await anyio.to_thread.run_sync(parse_pixels, body, limiter=limiter)
        # the forward pass is shared with the requests for the same model that arrive meanwhile
        return pixels_answer(m, await batchers[m.name](X))

    async def work(fn, *args) -> Response:
        return answer(await anyio.to_thread.run_sync(fn, *args, limiter=limiter))

    @app.exception_handler(ClientError)
    async def client_error(request, e: ClientError):
        return JSONResponse({"detail": e.detail}, e.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, e: RequestValidationError):
        err = e.errors()[0]
        where = " ".join(str(p) for p in err.get("loc", ()))
        return JSONResponse({"detail": f"{where}: {err.get('msg', 'invalid')}"}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request, e: HTTPException):  # 404 route, 405, a bad multipart form
        return JSONResponse({"detail": str(e.detail)}, e.status_code, headers=e.headers)

    @app.exception_handler(Exception)
    async def bug(request, e: Exception):  # ours, not the client's: logged, never shown
        log.exception("error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, 500)

    @app.post("/predict", openapi_extra=IMAGE_BODY, responses=ERRORS,
              summary="Read the digits on a photo or drawing")
    async def predict(request: Request, model: str | None = ModelName,
                      inputs: bool = Query(False, description="also the 28x28 inputs, base64 PNG")):
        """The image as the raw body (any image Content-Type) or as the multipart field `file`.
        Answers `digits` (the string read, left to right), `probabilities` [n][10], `boxes`
        [n][x0, y0, x1, y1] in the image's pixels, and with `inputs=true` what the model saw."""
        m = pick(model)
        return await work(read_image, await image_bytes(request, max_bytes), m, max_pixels, inputs)

    @app.post("/predict/pixels", openapi_extra=PIXELS_BODY, responses=ERRORS,
              summary="Probabilities for MNIST-format images")
    async def predict_pixels(request: Request, model: str | None = ModelName):
        """`{"pixels": image or [images]}`, an image 784 values or 28x28 in 0..255 (white on
        black). A list is one forward pass. Answers `digits` [N] and `probabilities` [N][10]."""
        return answer(await pixels(request, model))  # what PixelsFirst answers ahead of this

    @app.get("/models", summary="The trained models")
    async def list_models():
        return {"default": default, "models": [
            {"name": s.name, "kind": s.kind, "accuracy": s.accuracy, "n_params": s.n_params,
             "default": s.name == default} for s in served.values()]}

    @app.get("/health", summary="Liveness")
    async def health():
        return {"status": "ok", "models": len(served), "default": default}

    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", headers=headers)

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return FileResponse(STATIC / "docs.html", headers=headers)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(PixelsFirst, handle=pixels)
    if cors_origins:  # added last, so the outermost: its headers go on PixelsFirst's answers too
        from fastapi.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"])
    return app


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m recipes.serve", description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="the default model (default: the reader's, "
                                    "else the best test accuracy)")
    ap.add_argument("--models-dir", default=str(paths.MODELS), help="default: %(default)s")
    ap.add_argument("--host", default="127.0.0.1",
                    help="default: %(default)s, this machine only; 0.0.0.0 to be reached from others")
    ap.add_argument("--port", type=int, default=8000, help="default: %(default)s")
    ap.add_argument("--max-mb", type=float, default=MAX_BYTES / 2**20,
                    help="largest request body in MB (default: %(default)g)")
    ap.add_argument("--max-pixels", type=int, default=MAX_PIXELS,
                    help="largest image in pixels (default: %(default)s)")
    ap.add_argument("--concurrency", type=int, default=None,
                    help="requests computed at once (default: the cores, at least 2)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads per request (default: %(default)s: requests run in parallel)")
    ap.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                    help="allow a page from ORIGIN to call the API (repeatable; default: none)")
    args = ap.parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: must be 0..65535")
    if args.max_mb <= 0 or args.max_pixels <= 0:
        raise UserError("--max-mb and --max-pixels must be > 0")
    if args.concurrency is not None and args.concurrency < 1:
        raise UserError("--concurrency must be >= 1")
    import torch
    import uvicorn
    # one thread a request: requests run side by side, and a small net on one digit is
    # fastest on one thread. (One process: uvicorn's --workers loses TCP_NODELAY, and every
    # keep-alive request then waits ~40 ms on a delayed ACK; uvicorn issue 3149.)
    torch.set_num_threads(max(1, args.threads))
    # and so for numpy's BLAS (the reader's Gaussians are small matrix products): its own
    # threads would spin beside every request's, twice the CPU for no speed
    from threadpoolctl import threadpool_limits
    threadpool_limits(max(1, args.threads), user_api="blas")
    app = create_app(args.models_dir, model=args.model, max_bytes=int(args.max_mb * 2**20),
                     max_pixels=args.max_pixels, workers=args.concurrency,
                     cors_origins=args.cors_origin or None)
    try:
        # httptools (C) parses HTTP for a fraction of h11's time; the standard asyncio loop
        # (uvloop measured no faster here); no access log; one worker (see above)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", http="httptools",
                    loop="asyncio",
                    access_log=False, server_header=False)
    except OSError as e:  # the host is not ours
        raise UserError(f"cannot serve on {args.host}:{args.port} ({e.strerror or e})") from None


def cli() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    run(main)


if __name__ == "__main__":
    cli()
