"""Reading handwriting: photo -> MNIST-like inputs (recipes.preprocess) and the reader CLI.

Synthetic pages with known answers for the preprocessing; MNIST test digits pasted onto
shaded pages, and strips of them, for the reading, with a small CNN trained here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from conftest import assert_one_line_error, run_module
from recipes import models
from recipes.handwriting import preprocess
from recipes.handwriting import read as predict
from recipes.errors import UserError, run

SMALL_CNN = {
    "kind": "net", "epochs": 2, "batch_size": 128, "optimizer": "adam", "lr": 0.002, "seed": 0,
    "device": "cpu",
    "layers": [{"type": "conv", "num_filters": 12, "filter_size": 5, "nonlinearity": "relu"},
               {"type": "pool", "pool_size": 2},
               {"type": "conv", "num_filters": 24, "filter_size": 5, "nonlinearity": "relu"},
               {"type": "pool", "pool_size": 2},
               {"type": "dense", "num_units": 64, "nonlinearity": "relu"},
               {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}],
}


@pytest.fixture(scope="module")
def project(tmp_path_factory, mnist_train):
    """A project folder with models/t/: a small CNN trained on 10,000 MNIST images."""
    import torch
    root = tmp_path_factory.mktemp("project")
    X, y = mnist_train
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small net on a busy machine: one thread is several times faster
    try:
        model = models.create("t", SMALL_CNN).fit(X[:10000], y[:10000])
    finally:
        torch.set_num_threads(threads)
    model.save(root / "models" / "t")
    return root


@pytest.fixture(scope="module")
def model(project):
    return models.load(project / "models" / "t")


# ---- synthetic pages --------------------------------------------------------------------

def seven(size=(400, 300), at=(40, 230), height=120, width=9, ink=30, paper=235) -> np.ndarray:
    """A page (uint8 gray, rows x cols) with a 7 drawn at `at` (x, y of its top left)."""
    img = Image.new("L", (size[1], size[0]), paper)
    x, y = at
    w = int(height * 0.6)
    ImageDraw.Draw(img).line([(x, y), (x + w, y), (x + w * 0.35, y + height)],
                             fill=ink, width=width, joint="curve")
    return np.array(img)


def check_mnist_like(x: np.ndarray) -> None:
    """White on black, longer side 20 pixels, centre of mass within a pixel of (14, 14)."""
    img = x.reshape(28, 28).astype(float)
    assert img.max() == 255
    assert img[0].max() == img[-1].max() == img[:, 0].max() == img[:, -1].max() == 0
    assert (img > 0).mean() < 0.4  # mostly black: white on black, not the other way round
    rows, cols = np.flatnonzero(img.any(1)), np.flatnonzero(img.any(0))
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) == 20
    cy, cx = ndi.center_of_mass(img)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1, (cy, cx)


def similar(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


@pytest.fixture(scope="module")
def clean_seven():
    X = preprocess.digits(seven())
    assert X.shape == (1, 784)
    return X[0]


def test_off_centre_digit_lands_centred(clean_seven):
    check_mnist_like(clean_seven)


def test_inverted_digit_is_read_the_same(clean_seven):
    page = preprocess.page(255 - seven())
    assert not page.dark_ink
    check_mnist_like(page.X[0])
    assert similar(page.X[0], clean_seven) > 0.9


def test_shadow_gradient_and_colour_cast(clean_seven):
    gray = seven().astype(np.float32)
    rows, cols = np.mgrid[:gray.shape[0], :gray.shape[1]]
    shade = 1.0 - 0.6 * cols / cols.max() - 0.2 * rows / rows.max()  # bright left, dark corner
    gray = gray * shade
    rgb = np.stack([gray * 1.0, gray * 0.85, gray * 0.6], -1)  # a warm cast
    X = preprocess.digits(np.clip(rgb, 0, 255).astype(np.uint8))
    assert X.shape == (1, 784)
    check_mnist_like(X[0])
    assert similar(X[0], clean_seven) > 0.9


def test_a_sheet_on_a_dark_desk(clean_seven):
    desk = np.full((480, 380), 50, np.uint8)
    desk[40:440, 40:340] = seven()
    X = preprocess.digits(desk)
    assert len(X) == 1 and similar(X[0], clean_seven) > 0.9


def test_exif_orientation_is_applied(tmp_path, clean_seven):
    img = Image.fromarray(seven()).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": undoes the ROTATE_90
    img.save(tmp_path / "turned.jpg", quality=95, exif=exif)
    X = preprocess.digits(tmp_path / "turned.jpg")
    check_mnist_like(X[0])
    assert similar(X[0], clean_seven) > 0.9
    turned = preprocess.digits(np.asarray(img))  # the same pixels, the tag ignored
    assert similar(turned[0], clean_seven) < 0.6


def test_thin_pen_on_a_big_photo_is_thickened():
    page = seven(size=(1600, 1200), at=(300, 600), height=700, width=4)
    img = preprocess.digits(page)[0].reshape(28, 28)
    width = preprocess.stroke_width(img > 127)
    assert 1.8 <= width <= 3.6  # MNIST's middle 80%: 1.9 to 3.6 px


def test_a_speck_is_not_a_digit(clean_seven):
    page = seven()
    page[20:24, 20:24] = 30  # a dot of dust far from the digit
    X = preprocess.digits(page)
    assert len(X) == 1 and similar(X[0], clean_seven) > 0.95


def test_a_broken_stroke_stays_with_its_digit():
    img = Image.new("L", (300, 250), 235)
    draw = ImageDraw.Draw(img)
    x, y = 100, 50
    draw.line([(x + 14, y), (x + 70, y)], fill=30, width=8)  # a 5's flag, lifted off
    draw.line([(x + 12, y + 14), (x + 8, y + 62)], fill=30, width=8)
    draw.arc([x, y + 45, x + 66, y + 125], start=210, end=150, fill=30, width=8)
    page = preprocess.page(np.array(img))
    assert len(page.inputs) == 1
    check_mnist_like(page.X[0])


def test_touching_loops_are_two_digits():
    img = Image.new("L", (300, 250), 235)
    draw = ImageDraw.Draw(img)
    draw.ellipse([40, 60, 120, 180], outline=30, width=8)
    draw.ellipse([116, 60, 196, 180], outline=30, width=8)  # overlaps the first: one blob
    page = preprocess.page(np.array(img))
    assert len(page.inputs) == 2
    for x in page.X:
        check_mnist_like(x)


# ---- MNIST digits on paper --------------------------------------------------------------

def on_paper(digits28: list[np.ndarray], rng, scale=4, page=(260, 340), gap=12) -> np.ndarray:
    """MNIST digits, upscaled, written dark on light paper side by side, under a shadow."""
    big = [np.asarray(Image.fromarray(d).resize((28 * scale, 28 * scale),
                                                Image.Resampling.BICUBIC), np.float32) / 255
           for d in digits28]
    strip = np.concatenate([np.pad(np.clip(b, 0, 1), ((0, 0), (0, gap))) for b in big], 1)
    h, w = strip.shape
    H, W = max(page[0], h + 40), max(page[1], w + 40)
    ink = np.zeros((H, W), np.float32)
    y0, x0 = rng.integers(10, H - h - 10), rng.integers(10, W - w - 10)
    ink[y0:y0 + h, x0:x0 + w] = strip
    paper = 0.93 - 0.03 * rng.random((H, W))
    gray = paper * (1 - 0.85 * ink)
    rows, cols = np.mgrid[:H, :W]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * cols + np.sin(angle) * rows) / np.hypot(H, W)
    shade = 1 - 0.5 * (ramp - ramp.min()) / np.ptp(ramp)  # down to half the light
    return np.clip(gray * shade * 255, 0, 255).astype(np.uint8)


def test_mnist_digits_on_shaded_paper_are_read(model, mnist_test):
    Xt, yt = mnist_test
    n = 200
    rng = np.random.default_rng(0)
    raw = (model.predict(Xt[:n]) == yt[:n]).mean()
    found = [preprocess.digits(on_paper([Xt[i].reshape(28, 28)], rng)) for i in range(n)]
    one = np.array([len(x) == 1 for x in found])
    assert one.mean() >= 0.98  # one digit found on (nearly) every page
    pred = model.predict(np.concatenate([x[:1] for x in found]))  # one call: fast
    acc = np.mean(one & (pred == yt[:n]))
    assert acc >= raw - 0.05, (acc, raw)


def test_a_strip_reads_as_a_number_with_its_leading_zero(model, mnist_test):
    Xt, yt = mnist_test
    right = model.predict(Xt[:500]) == yt[:500]
    picks = [int(np.flatnonzero((yt[:500] == d) & right)[0]) for d in (0, 1, 2, 3)]
    page = on_paper([Xt[i].reshape(28, 28) for i in picks], np.random.default_rng(1), scale=3)
    assert predict.read_digits(page, model) == "0123"
    proba = predict.digit_probabilities(page, model)
    assert proba.shape == (4, 10) and np.allclose(proba.sum(1), 1, atol=1e-4)
    tilted = Image.fromarray(page).rotate(25, expand=True, fillcolor=int(np.median(page)))
    assert predict.read_digits(np.asarray(tilted), model) == "0123"  # a line written uphill


# ---- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("page, needle", [
    (np.full((200, 300), 240, np.uint8), "no ink"),                              # blank page
    (np.tile(np.linspace(90, 250, 300), (200, 1)).astype(np.uint8), "no ink"),  # shadow only
    (np.zeros((5, 5), np.uint8), "too small"),
    (np.zeros((2, 3, 4, 5)), "expected a 2-D"),
])
def test_pages_without_a_digit(page, needle):
    with pytest.raises(UserError, match=needle):
        preprocess.page(page)


def test_noise_alone_is_no_ink():
    rng = np.random.default_rng(0)
    page = (235 + rng.normal(0, 3, (300, 400))).clip(0, 255).astype(np.uint8)
    with pytest.raises(UserError, match="no ink"):
        preprocess.page(page)


def cli_error(capsys, *argv) -> str:
    """Run the CLI in-process through `errors.run`: exit status 1 and one line on stderr."""
    with pytest.raises(SystemExit) as exc:
        run(lambda: predict.main(list(map(str, argv))))
    assert exc.value.code == 1
    lines = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_bad_inputs_are_one_line_each(project, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(project)
    (tmp_path / "notes.png").write_text("not an image at all\n")
    Image.new("L", (120, 90), 230).save(tmp_path / "blank.png")
    assert "not an image" in cli_error(capsys, tmp_path / "notes.png", "--model", "t")
    assert "no ink" in cli_error(capsys, tmp_path / "blank.png", "--model", "t")
    assert "no such file" in cli_error(capsys, tmp_path / "missing.jpg", "--model", "t")
    assert "folder" in cli_error(capsys, tmp_path, "--model", "t")
    msg = cli_error(capsys, tmp_path / "blank.png", "--model", "nope")
    assert "model nope was never trained" in msg and "dvc repro train@nope" in msg


def test_read_and_evaluate(project, mnist_test, tmp_path, monkeypatch, capsys):
    """The CLI as a user runs it: a folder with good and bad images, a debug drawing."""
    monkeypatch.chdir(project)
    Xt, yt = mnist_test
    rng = np.random.default_rng(2)
    folder = tmp_path / "mine"
    folder.mkdir()
    for k, idx in enumerate([(3,), (3, 2), (0, 4)]):  # 0, 01 (a leading zero) and 74
        label = "".join(str(yt[i]) for i in idx)
        Image.fromarray(on_paper([Xt[i].reshape(28, 28) for i in idx], rng)).save(
            folder / f"{label}_synthetic_{k}.png")
    (folder / "5_broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "README.md").write_text("not labelled: skipped\n")
    Image.fromarray(seven()).save(folder / "7_drawn.png")

    proc = run_module("recipes.predict", folder / "7_drawn.png", "--model", "t",
                      "--debug", tmp_path / "debug.png", "--evaluate", folder,
                      "--out", tmp_path / "hw.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{folder / '7_drawn.png'}: ")
    assert (tmp_path / "debug.png").stat().st_size > 1000
    report = json.loads((tmp_path / "hw.json").read_text())
    assert report["images"] == 5 and 0 <= report["exact_rate"] <= 1
    by_file = {e["file"]: e for e in report["results"]}
    assert "README.md" not in by_file
    assert by_file["5_broken.jpg"]["read"] is None
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error")]
    assert len(errors) == 1 and "5_broken.jpg" in errors[0]
    for e in report["results"]:
        assert {"file", "label", "read", "probabilities"} <= set(e)
        if e["read"] is not None:
            assert len(e["probabilities"]) == len(e["read"])
    assert report["exact"] >= 3  # the MNIST numbers and the drawn 7 (a small model, though)
    assert (tmp_path / "hw_misread.png").exists()


def test_several_images_one_bad(project, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(project)
    Image.fromarray(seven()).save(tmp_path / "a.png")
    with pytest.raises(SystemExit) as exc:
        run(lambda: predict.main([str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--model", "t"]))
    assert exc.value.code == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"{tmp_path / 'a.png'}: 7")
    assert len(err.strip().splitlines()) == 1 and "b.png: no such file" in err


def test_cli_entry_point_reports_one_line(project, tmp_path):
    proc = run_module("recipes.predict", tmp_path / "none.png", "--model", "t", cwd=project)
    assert_one_line_error(proc, "none.png", "no such file")
