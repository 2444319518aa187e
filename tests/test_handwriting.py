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

from conftest import assert_one_line_error, run_in_process, run_module
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
    models.save(model, root / "models" / "t", "t")
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


def test_a_drawing_is_not_taken_for_a_photo(clean_seven, monkeypatch):
    """Flat paper (the page's pad) skips estimating the light and reads as if it had not;
    a photo whose paper is blown out to one tone over half of it, beside a shadow, is still
    estimated (the shadow's tones lie near the paper's)."""
    from recipes.handwriting import ink
    calls = []
    real = ink.background
    monkeypatch.setattr(ink, "background", lambda *a: calls.append(1) or real(*a))
    assert similar(preprocess.digits(seven())[0], clean_seven) == 1.0 and not calls
    monkeypatch.setattr(ink, "FLAT_PAPER", 2.0)  # never flat: the light estimated
    assert similar(preprocess.digits(seven())[0], clean_seven) > 0.98 and calls
    monkeypatch.setattr(ink, "FLAT_PAPER", 0.5)
    calls.clear()
    blown = seven(paper=255).astype(np.float32)
    blown[:, 150:] *= np.linspace(1.0, 0.6, 150)  # a soft shadow over the right half
    X = preprocess.digits(blown.astype(np.uint8))
    assert calls and len(X) == 1 and similar(X[0], clean_seven) > 0.9


def test_a_sheet_on_a_dark_desk(clean_seven):
    desk = np.full((480, 380), 50, np.uint8)
    desk[40:440, 40:340] = seven()
    X = preprocess.digits(desk)
    assert len(X) == 1 and similar(X[0], clean_seven) > 0.9


def test_dark_ink_stays_dark_beside_a_desk_and_a_shadow(clean_seven):
    """A desk over a third of the frame and a shadow over part of the sheet pull the photo's
    median below the middle of its range, where dark ink looks like light ink on dark paper:
    the paper's tone is taken without the desk. (Light ink on a dark board stays light: the
    inverted seven above.)"""
    page = seven(size=(460, 300), at=(170, 40)).astype(np.float32)
    dim = np.clip((np.arange(300) - 60) / 40, 0, 1)            # a soft shadow over the left half
    page *= 0.45 + 0.55 * dim[None, :]
    page[300:] = 20                                           # the desk: 35% of the frame
    page = page.astype(np.uint8)
    lo, med, hi = np.percentile(page, [0.2, 50, 99.8])
    assert hi - med > med - lo                                # the median alone says light ink
    got = preprocess.page(page)
    assert got.dark_ink and len(got.X) == 1 and similar(got.X[0], clean_seven) > 0.9


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
    n = 120
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
    (np.tile(np.linspace(90, 250, 300), (200, 1)).astype(np.uint8), "no (ink|digits)"),  # shadow
    (np.zeros((5, 5), np.uint8), "too small"),
    (np.zeros((2, 3, 4, 5)), "expected a 2-D"),
])
def test_pages_without_a_digit(page, needle):
    with pytest.raises(UserError, match=needle):
        preprocess.page(page)


def test_noise_alone_is_no_ink():
    rng = np.random.default_rng(0)
    page = (235 + rng.normal(0, 3, (300, 400))).clip(0, 255).astype(np.uint8)
    with pytest.raises(UserError, match="no (ink|digits)"):
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
    """The CLI as a user runs it (in this process: test_cli_entry_point_reports_one_line runs
    the installed command): a folder with good and bad images, a debug drawing."""
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
    desk = np.full((300, 400), 225, np.uint8)
    desk[:, 300:] = 40
    Image.fromarray(desk).save(folder / "3_desk.png")  # no digits: the gallery shows the page

    proc = run_in_process("recipes.handwriting.read", folder / "7_drawn.png", "--model", "t",
                          "--debug", tmp_path / "debug.png", "--evaluate", folder,
                          "--out", tmp_path / "hw.json", cwd=project, monkeypatch=monkeypatch,
                          capsys=capsys)
    assert proc.returncode == 1, proc.stderr  # one image was unreadable: said, after the report
    assert "2 of 6 images" in proc.stderr.splitlines()[-1]
    assert proc.stdout.startswith(f"{folder / '7_drawn.png'}: ")
    assert (tmp_path / "debug.png").stat().st_size > 1000
    report = json.loads((tmp_path / "hw.json").read_text())
    assert report["images"] == 6 and 0 <= report["exact_rate"] <= 1
    by_file = {e["file"]: e for e in report["results"]}
    assert "README.md" not in by_file
    assert by_file["5_broken.jpg"]["read"] is None
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error")]
    assert len(errors) == 3 and "3_desk.png: no digits found" in errors[0]
    assert "5_broken.jpg" in errors[1] and "unreadable" in errors[2]
    for e in report["results"]:
        assert {"file", "label", "read", "probabilities"} <= set(e)
        if e["read"] is not None:
            assert len(e["probabilities"]) == len(e["read"])
    assert report["exact"] >= 3  # the MNIST numbers and the drawn 7 (a small model, though)
    assert (tmp_path / "hw_misread.png").exists()


def test_unsure_is_judged_against_what_the_model_can_say():
    """A net trained with label smoothing 0.1 says at most 0.91: a digit it reads at 0.89
    is sure (from a net without, it is not); 0.8 is unsure from both."""
    from recipes.nets.classifier import NetClassifier
    smooth, plain = NetClassifier(label_smoothing=0.1), NetClassifier()
    assert predict.confident_for(plain) == predict.CONFIDENT
    proba = np.array([[0.89] + [0.11 / 9] * 9, [0.8] + [0.2 / 9] * 9])
    assert predict.unsure(proba, predict.confident_for(smooth)) == [1]
    assert predict.unsure(proba, predict.confident_for(plain)) == [0, 1]
    # a committee's mean says at most its members' mean: two smoothed nets, 0.91
    from recipes.committee import CommitteeClassifier
    both = CommitteeClassifier(members=["a", "b"])
    both.estimators_ = [smooth, NetClassifier(label_smoothing=0.1)]
    assert predict.confident_for(both) == pytest.approx(predict.confident_for(smooth))
    assert predict.unsure(proba, predict.confident_for(both)) == [1]


def test_several_images_one_bad(project, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(project)
    Image.fromarray(seven()).save(tmp_path / "a.png")
    with pytest.raises(SystemExit) as exc:
        run(lambda: predict.main([str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--model", "t"]))
    assert exc.value.code == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"{tmp_path / 'a.png'}: 7")
    assert len(err.strip().splitlines()) == 1 and "b.png: no such file" in err


@pytest.mark.slow   # the installed command in subprocesses: 3.5 s
def test_cli_entry_point_reports_one_line(project, tmp_path):
    proc = run_module("recipes.predict", tmp_path / "none.png", "--model", "t", cwd=project)
    assert_one_line_error(proc, "none.png", "no such file")


# ---- issue 20: clutter, lines, touching digits, no digits --------------------------------

def page_of(lines: list[list[np.ndarray]], rng, height=60, size=(700, 900), gap=0.3) -> np.ndarray:
    """MNIST digits (28x28) written `height` px tall, line under line, on shaded paper."""
    H, W = size
    ink = np.zeros((H, W), np.float32)
    y = 150
    for digits in lines:
        x = 120
        for d in digits:
            big = np.asarray(Image.fromarray(d).resize((height, height), Image.Resampling.BICUBIC),
                             np.float32) / 255
            ink[y:y + height, x:x + height] = np.maximum(ink[y:y + height, x:x + height], big)
            x += int(height * (0.8 + gap))
        y += int(height * 1.8)
    paper = 0.92 - 0.03 * rng.random((H, W))
    return np.clip(paper * (1 - 0.85 * np.clip(ink, 0, 1)) * 255, 0, 255).astype(np.uint8)


def test_a_desk_a_phone_and_a_shadow_do_not_hide_small_digits(mnist_test):
    """The largest dark things in the frame are clutter; the small digits are still found."""
    Xt, yt = mnist_test
    rng = np.random.default_rng(3)
    picks = [Xt[i].reshape(28, 28) for i in range(5)]
    img = page_of([picks], rng, height=40, size=(900, 1200)).astype(np.float32)
    img[:, 1050:] = 40                       # a desk along the right edge
    img[700:, 30:200] = 15                   # a phone at the bottom edge
    rows, cols = np.mgrid[:900, :1200]
    img *= 1 - 0.5 * np.exp(-((rows - 100) ** 2 + (cols - 20) ** 2) / 2e4)  # a hand's shadow
    page = preprocess.page(img.clip(0, 255).astype(np.uint8))
    assert [len(l) for l in page.lines] == [5]
    scale = page.gray.shape[1] / 1200   # the working copy's size
    for x0, y0, x1, y1 in page.boxes:   # none of them on the desk or the phone
        assert x1 < 1050 * scale and not (y1 > 700 * scale and x0 < 200 * scale)


def test_two_lines_are_two_strings(model, mnist_test):
    Xt, yt = mnist_test
    right = model.predict(Xt[:300]) == yt[:300]
    ok = [i for i in range(300) if right[i]]
    top, bottom = ok[:3], ok[3:7]
    img = page_of([[Xt[i].reshape(28, 28) for i in top], [Xt[i].reshape(28, 28) for i in bottom]],
                  np.random.default_rng(4))
    lines = predict.read_lines(img, model)
    assert lines == ["".join(str(yt[i]) for i in top), "".join(str(yt[i]) for i in bottom)]
    assert predict.read_digits(img, model) == " ".join(lines)


def test_two_sloping_lines_are_not_chained_into_one():
    """The upper line's end comes down to the height of the lower line's start, a line's
    length away: two lines, not one read in the wrong order. A space between two numbers on
    one line (two digit heights) still joins them."""
    from recipes.handwriting import segment
    upper = [[40 * k, 10 * k, 40 * k + 30, 10 * k + 40] for k in range(6)]
    lower = [[40 * k, 70 + 10 * k, 40 * k + 30, 110 + 10 * k] for k in range(6)]
    boxes = np.array(upper + lower)
    assert segment.lines_of(boxes) == [list(range(6)), list(range(6, 12))]
    spaced = np.array([[0, 0, 30, 40], [40, 0, 70, 40], [150, 2, 180, 42], [190, 0, 220, 40]])
    assert segment.lines_of(spaced) == [[0, 1, 2, 3]]


def drawn(strokes, size=(260, 360), width=9) -> np.ndarray:
    img = Image.new("L", (size[1], size[0]), 235)
    draw = ImageDraw.Draw(img)
    for s in strokes:
        draw.line(s, fill=25, width=width, joint="curve")
    return np.asarray(img)


def test_a_bar_alone_is_no_digit_and_no_warning():
    """The drawing pad's 7 with its stem undone: the bar is opened out as a rule and nothing
    is left to measure a pen on (numpy warned of an empty median to the server's log)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(preprocess.NoDigits):
            preprocess.page(drawn([[(80, 60), (280, 60)]], width=18))


@pytest.mark.parametrize("strokes, want", [
    ([[(140, 40), (140, 200)], [(120, 200), (160, 200)],                              # 11, their
      [(185, 40), (185, 200)], [(165, 200), (205, 200)]], 2),                         # bases touching
    ([[(90, 50), (170, 50), (120, 200)], [(168, 52), (250, 50), (200, 200)]], 2),     # 77, touching
    ([[(150, 40), (150, 200)]], 1),                                                    # one 1
])
def test_touching_digits_without_loops_are_split(model, strokes, want):
    page = preprocess.page(drawn(strokes), classify=model.predict_proba)
    assert len(page.inputs) == want


@pytest.mark.parametrize("whole, want", [(0.65, 2), (0.95, 1)])
def test_a_group_read_unsure_is_cut_where_its_parts_read_surely(whole, want):
    """The classifier reads a merged pair (a "15") as one digit at 0.65 and each half at
    0.9: the cut is taken; a group read surely stays whole, the parts reading as well."""
    from recipes.handwriting import segment
    region = drawn([[(150, 40), (150, 200)], [(185, 40), (185, 200)], [(150, 120), (185, 120)]],
                   width=9)[30:210, 140:196] < 128
    ref = 120.0

    def read(parts):
        wide = [segment._width(p) == segment._width(region) for p in parts]
        return np.log([whole if w else 0.9 for w in wide])
    assert len(segment.split_wide(region, ref, read)) == want


@pytest.mark.parametrize("top, want", [(150, 1), (40, 2)])
def test_a_cut_through_one_stroke_is_clean_only_between_full_height_parts(top, want):
    """A stroke and a short hook whose foot joins it (a 5's tail broken off, read as a 6 by
    itself) stays one digit, while two full-height strokes joined the same way ("11") part:
    the cheap clean cut needs a full-height part on both sides."""
    from recipes.handwriting import segment
    region = drawn([[(190, 40), (190, 200)], [(120, top), (120, 200), (190, 200)]],
                   width=9)[30:210, 100:200] < 128
    ref = 120.0

    def read(parts):  # each part alone reads surely, the two together not quite
        whole = [segment._width(p) == segment._width(region) for p in parts]
        return np.log([0.45 if w else 0.9 for w in whole])
    assert len(segment.split_wide(region, ref, read)) == want


@pytest.mark.parametrize("gap, want", [(14, 1), (40, 2)])
def test_a_digit_broken_in_two_is_merged_when_read_better_whole(gap, want):
    """A 9's open loop and its stem, 0.14 of the digits' height apart, read better as one
    digit than as a "c" and a "1": one digit; the same pieces as far apart as two digits
    are, two."""
    from recipes.handwriting import segment
    ref = 100.0
    loop = (0, 0, np.ones((70, 40), bool))
    stem = (0, 40 + gap, np.ones((100, 12), bool))

    def read(parts, y0, x0):  # the pieces read unsurely and surely; the two together, a 9
        return np.log([0.62, 0.89, 0.91][:len(parts)])
    assert len(segment.merge_broken([loop, stem], [0, 1], ref, read)) == want


@pytest.mark.parametrize("flat, want", [(True, 1), (False, 2)])
def test_a_5s_bar_broken_off_past_its_body_is_merged(flat, want):
    """A 5 whose flag was written apart and runs on past its body, together 1.2 digits'
    heights wide: still one digit when read better whole (its body alone reads as a 6); two
    upright pieces as wide together stay two."""
    from recipes.handwriting import segment
    ref = 48.0
    body = (10, 0, np.ones((40, 26), bool))
    other = (0, 10, np.ones((10, 47), bool)) if flat else (0, 30, np.ones((40, 28), bool))

    def read(parts, y0, x0):  # the body a 6 unsurely, the flag nothing; together a 5
        return np.log([0.5, 0.1, 0.9][:len(parts)])
    assert len(segment.merge_broken([body, other], [0, 1], ref, read)) == want


def test_a_tight_boxs_side_cut_off_a_digit_is_no_1():
    """A part the cut search parted from the last digit of a tight box, standing at the
    ends of the box's opened top and bottom: the box's side (it was read as a 1, surely). A
    1 of the same size between them, the rules running on past it, stays a digit."""
    from recipes.handwriting import segment
    rules = np.zeros((260, 420), bool)
    rules[60:64, 40:324] = rules[196:200, 40:324] = True   # the box's top and bottom
    stroke = np.ones((140, 6), bool)
    assert segment.no_digit(60, 318, stroke, 120.0, rules) == "a box's side, cut off a digit"
    assert segment.no_digit(60, 200, stroke, 120.0, rules) is None
    assert segment.no_digit(60, 318, stroke, 120.0, None) is None


def test_a_digit_gone_over_with_a_bolder_pen_is_no_blob(mnist_test):
    """One digit of four written with a pen about three times as wide as the others: a
    digit still (it was rejected as a solid blob), while a solid mark is not one."""
    from recipes.handwriting import segment
    Xt, yt = mnist_test
    img = page_of([[Xt[i].reshape(28, 28) for i in range(4)]], np.random.default_rng(5))
    mask = img < 128
    x = 120 + 3 * int(60 * 1.1)
    mask[140:230, x - 10:x + 70] = ndi.binary_dilation(mask[140:230, x - 10:x + 70], iterations=3)
    found = segment.find(mask)
    assert [len(line) for line in found.lines] == [4], found.rejected
    mask[150:210, x + 100:x + 150] = True           # a solid mark beside them
    assert [len(line) for line in segment.find(mask).lines] == [4]


def test_a_dash_between_digits_is_no_digit(model, mnist_test):
    """A number written with a dash (a phone number, a date) reads as its digits."""
    Xt, yt = mnist_test
    right = np.flatnonzero(model.predict(Xt[:100]) == yt[:100])[:4]
    img = page_of([[Xt[i].reshape(28, 28) for i in right]], np.random.default_rng(7), gap=0.8)
    x = 120 + int(60 * 1.6) + 60 + 8         # in the gap after the second digit, mid-height
    img[150 + 27:150 + 33, x:x + 30] = 30
    page = preprocess.page(img, classify=model.predict_proba)
    assert predict.read_digits(img, model) == "".join(str(yt[i]) for i in right)
    assert any(why.startswith("flat") for _, why in page.rejected)


def test_a_3_touching_a_0_is_cut_through_both_strokes(model, mnist_test):
    """Two digits overlapping so that the cut between them crosses two strokes (the 3's
    end and the 0's side): a part that wide is tried at such a waist too."""
    Xt, yt = mnist_test
    three, zero = [np.flatnonzero(yt[:200] == d)[2] for d in (3, 0)]
    img = page_of([[Xt[three].reshape(28, 28), Xt[zero].reshape(28, 28)]], np.random.default_rng(6),
                  gap=-0.3, size=(400, 500))
    assert predict.read_digits(img, model) == "30"


@pytest.mark.parametrize("left, nth, want", [(7, 2, "70"), (4, 4, "40")])
def test_digits_overlapping_in_their_columns_are_cut_along_a_bent_path(model, mnist_test, left, nth, want):
    """A 7 whose bar reaches over the 0 beside it, a 4 leaning into it: no straight line
    runs between them, a cut that bends round the strokes' ends does (straight waists only:
    read as "40" and "6" by this model)."""
    Xt, yt = mnist_test
    a, zero = np.flatnonzero(yt[:200] == left)[nth], np.flatnonzero(yt[:200] == 0)[1]
    img = page_of([[Xt[a].reshape(28, 28), Xt[zero].reshape(28, 28)]], np.random.default_rng(6),
                  gap=-0.3, size=(400, 500))
    assert predict.read_digits(img, model) == want


def test_a_thin_bar_broken_off_a_7_is_part_of_it():
    """A 7's bar drawn a fifth as wide as the pen's strokes and apart from its stem (a quick
    stroke, a pencil) is the 7's, not a hairline: a sheet's edge or a faint rule is thinner."""
    img = np.minimum(drawn([[(60, 40), (60, 200)], [(110, 40), (110, 200)], [(236, 48), (190, 200)]],
                           width=15), drawn([[(160, 40), (228, 40)]], width=3))
    page = preprocess.page(img)
    assert not any("hairline" in why for _, why in page.rejected)
    assert [len(line) for line in page.lines] == [3]
    x0, y0, x1, y1 = page.boxes[-1]
    assert (x1 - x0) / (y1 - y0) > 0.45  # the bar with the stem: without it, 0.34


def test_two_1s_leaning_far_are_two_digits():
    """Two 1s written at a strong slant, apart: their boxes overlap as a digit's two strokes
    would, their columns along the writing's slant do not."""
    page = preprocess.page(drawn([[(100, 200), (180, 40)], [(116, 200), (196, 40)]]))
    assert [len(line) for line in page.lines] == [2]


def _slant(x: np.ndarray) -> float:
    """dx per dy of an input's ink (y down: a digit leaning right is negative)."""
    from recipes.handwriting import segment
    return segment._slant(x.reshape(28, 28) > 127)


def test_a_line_written_at_a_slant_is_made_upright_as_mnist_s_digits_are():
    """Five 1s leaning right by 0.5 (dx per dy) come out leaning by about MNIST's own 0.12;
    a single one, whose slant alone says little of the writer's, is straightened less."""
    ones = [[(60 + 70 * k + 80, 40), (60 + 70 * k, 200)] for k in range(5)]
    line = preprocess.page(drawn(ones, size=(260, 500)))
    one = preprocess.page(drawn(ones[:1], size=(260, 500)))
    assert [len(x) for x in line.lines] == [5]
    slants = [_slant(x) for x in line.inputs]
    assert all(-0.35 < s < -0.05 for s in slants), slants      # -0.5 as written
    alone = _slant(one.inputs[0])
    assert -0.5 < alone < _slant(line.inputs[0]) - 0.05   # straightened, less than the line


def test_a_box_and_an_underline_touching_the_digits(mnist_test):
    Xt, yt = mnist_test
    img = page_of([[Xt[i].reshape(28, 28) for i in range(4)]], np.random.default_rng(5))
    img[150 + 58:150 + 62, 100:430] = 30      # an underline through the digits' feet
    img[130:134, 100:430] = 30               # and a box round them
    img[130:214, 100:104] = img[130:214, 426:430] = 30
    page = preprocess.page(img)
    assert [len(l) for l in page.lines] == [4]


def test_a_box_touching_its_one_digit_comes_off_it(mnist_test):
    """A box drawn round a single digit that touches its top and its right side: box and
    digit are one mark, too narrow for the box's lines to be rules. The box is a frame
    (straight sides, hollow), opened out; the digit inside is read alone."""
    Xt, yt = mnist_test
    zero = Xt[int(np.flatnonzero(yt == 0)[0])].reshape(28, 28)
    img = page_of([[zero]], np.random.default_rng(5))
    rows, cols = np.nonzero(img < 128)
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    img[top:top + 4, left - 16:right + 1] = 30               # the top, on the digit's top
    img[bottom + 14:bottom + 18, left - 16:right + 1] = 30   # the bottom, under it
    img[top:bottom + 18, left - 16:left - 12] = 30           # the left side, apart from it
    img[top:bottom + 18, right - 3:right + 1] = 30           # the right side, on its right
    page = preprocess.page(img)
    assert [len(l) for l in page.lines] == [1]
    scale = page.gray.shape[1] / img.shape[1]
    x0, y0, x1, y1 = page.boxes[0]
    assert x0 > (left - 12) * scale and y1 < (bottom + 14) * scale


def test_a_ruled_line_through_the_digits_leaves_each_whole(mnist_test):
    """A ruled line through the middle of a line of digits is opened out, but not where the
    digits' strokes cross it: each digit stays one mark, not a top half and a bottom half."""
    from recipes.handwriting import segment
    Xt, yt = mnist_test
    img = page_of([[Xt[i].reshape(28, 28) for i in range(6)]], np.random.default_rng(5))
    img[178:181, 20:880] = 60                 # the rule, 28 px below the digits' tops
    found = segment.find(img < 128)
    assert [len(line) for line in found.lines] == [6]
    assert all(p.shape[0] > 35 for _, _, p in found.lines[0])
    assert found.rules[179, 20:880].mean() > 0.7   # still opened out between the digits


def test_an_underlined_number_beside_the_sheets_edge(mnist_test):
    """Digits joined by their underline are one wide mark, and the sheet's edge along the
    frame the only stroke-like one: its height is not the digits' (it was taken for it, and
    the underlined number rejected as a dash)."""
    from recipes.handwriting import segment
    Xt, yt = mnist_test
    img = page_of([[Xt[i].reshape(28, 28) for i in range(4)]], np.random.default_rng(5))
    mask = img < 128
    mask[196:200, 100:430] = True             # an underline through every digit's foot
    mask[300:, -6:] = True                    # the sheet's edge along the frame, left by the threshold
    found = segment.find(mask)
    assert [len(line) for line in found.lines] == [4]
    assert 30 < found.height < 60


def test_the_pens_width_is_its_digits_not_the_sheets_edge(mnist_test):
    """A thick pen on a sheet whose edges the threshold left along the frame in thin
    strokes, more of them than digits: the pen's width is the digits' own, so they are no
    solid blobs (a thick "7329" beside a ruled sheet's edges was read as no digits)."""
    from recipes.handwriting import segment
    Xt, yt = mnist_test
    img = page_of([[Xt[i].reshape(28, 28) for i in range(4)]], np.random.default_rng(5))
    mask = ndi.binary_dilation(img < 128, iterations=3)
    for y in (40, 160, 280, 400, 520):                  # the sheet's edges: thin, digit-tall
        mask[y:y + 60, :2] = mask[y:y + 60, -2:] = True
    found = segment.find(mask)
    assert [len(line) for line in found.lines] == [4]


def test_a_shadows_faint_edge_sets_no_digit_size(mnist_test):
    """A shadow's edge cut by the threshold into marks larger than the digits, as faint as
    the paper's grain: the digits' size is the pen's marks', and the grain is no digit."""
    from recipes.handwriting import segment
    Xt, yt = mnist_test
    img = page_of([[Xt[i].reshape(28, 28) for i in range(2)]], np.random.default_rng(5),
                  height=30)
    digits = img < 128
    rows, cols = np.mgrid[:700, :900]
    edge = np.zeros_like(digits)
    for x in range(300, 860, 70):                       # the shadow's edge: wavy, 150 px tall
        edge |= (np.abs(cols - x - 12 * np.sin(rows / 8)) < 4) & (rows >= 300) & (rows < 450)
    for x in range(60, 860, 40):                        # and its grain, in digit-sized marks
        edge |= (np.abs(cols - x - 4 * np.sin(rows / 4)) < 2) & (rows >= 550) & (rows < 578)
    strength = np.where(digits, 0.5, np.where(edge, 0.1, 0.0))
    found = segment.find(digits | edge, strength=strength)
    assert [len(line) for line in found.lines] == [2]
    assert 20 < found.height < 40
    assert len(found.rejected) == 8 + 20
    assert sum("paper's grain" in why for _, why in found.rejected) == 20


def test_a_tight_box_has_no_sides_read_as_1s(mnist_test):
    """A box drawn close round a number: its sides, barely taller than the digits, are
    the box's (they join its top and bottom at their ends), not two 1s."""
    Xt, yt = mnist_test
    img = page_of([[Xt[i].reshape(28, 28) for i in range(4)]], np.random.default_rng(5))
    img[154:157, 108:392] = img[204:207, 108:392] = 30   # top and bottom, 50 px apart
    img[154:207, 108:111] = img[154:207, 389:392] = 30   # the sides: 1.2 x the digits' height
    page = preprocess.page(img)
    assert [len(l) for l in page.lines] == [4]
    assert page.boxes[0][0] > 111 and page.boxes[-1][2] < 389


def test_a_level_box_round_digits_written_downhill_stays_opened_out(mnist_test):
    """Digits written at 10 degrees inside a level box: levelling the digits turns the box's
    sides past the slopes rules are looked for along, so the sides found before stay out
    (they were read as two more marks, each holding digits)."""
    Xt, yt = mnist_test
    H, W, h = 500, 800, 60
    ink = np.zeros((H, W), np.float32)
    for k in range(6):
        x = 150 + int(h * 0.85 * k)
        y = 170 + int(np.tan(np.radians(10)) * (x - 150))
        big = np.asarray(Image.fromarray(Xt[k].reshape(28, 28)).resize(
            (h, h), Image.Resampling.BICUBIC), np.float32) / 255
        ink[y:y + h, x:x + h] = np.maximum(ink[y:y + h, x:x + h], big)
    ink[150:155, 140:520] = ink[310:315, 140:520] = 1
    ink[150:315, 140:145] = ink[150:315, 515:520] = 1
    paper = 0.92 - 0.03 * np.random.default_rng(5).random((H, W))
    page = preprocess.page(np.clip(paper * (1 - 0.85 * ink) * 255, 0, 255).astype(np.uint8))
    assert page.angle > 5
    assert [len(l) for l in page.lines] == [6]


def test_a_1_touching_a_box_top_and_bottom_stays_a_digit():
    """Inside a tight box a 1 may touch both its lines; the lines run on past it on both
    sides, which a box's side never has."""
    box = [[(40, 60), (320, 60)], [(40, 200), (320, 200)], [(40, 60), (40, 200)], [(320, 60), (320, 200)]]
    one, seven_ = [(150, 60), (150, 200)], [(200, 68), (265, 68), (225, 196)]
    page = preprocess.page(drawn(box + [one, seven_]))
    assert [len(l) for l in page.lines] == [2]
    (ax0, _, ax1, _), (bx0, _, _, _) = page.boxes
    assert ax0 < 150 < ax1 and bx0 > 190


def test_small_digits_on_a_large_page_are_looked_at_magnified(model, mnist_test):
    """Digits 2% of a large photo tall are read again from their region, magnified; the
    boxes the server gives still land on them in the photo."""
    from recipes.serve import unlevel
    Xt, yt = mnist_test
    right = np.flatnonzero(model.predict(Xt[:100]) == yt[:100])[:5]
    img = page_of([[Xt[i].reshape(28, 28) for i in right]], np.random.default_rng(8),
                  height=30, size=(1000, 1300))
    page = preprocess.page(img, classify=model.predict_proba)
    assert page.region is not None and page.region[2] > 1.25
    assert [len(l) for l in page.lines] == [5]
    y0, x0, f, (gh, gw) = page.region
    boxes = unlevel(page.boxes, page.angle, page.gray.shape) / f + [x0, y0, x0, y0]
    boxes = boxes * [1300 / gw, 1000 / gh, 1300 / gw, 1000 / gh]
    for k, (bx0, by0, bx1, by1) in enumerate(boxes):  # digit k is drawn at x 120 + 33k, y 150
        assert 120 + 33 * k - 3 <= bx0 < bx1 <= 120 + 33 * k + 33 and 148 <= by0 < by1 <= 183
    assert predict.read_digits(img, model) == "".join(str(yt[i]) for i in right)


@pytest.mark.parametrize("what", ["cup", "desk", "shadow"])
def test_a_page_without_digits_says_so(what):
    img = np.full((600, 800), 225, np.uint8)
    if what == "shadow":  # a deep soft shadow over grainy paper: its grain is no ink
        yy, xx = np.mgrid[:600, :800]
        shadow = ndi.gaussian_filter((((yy - 420) / 260) ** 2 + ((xx - 120) / 330) ** 2 < 1) * 1.0, 40)
        grain = np.random.default_rng(3).normal(0, 4, img.shape)
        img = np.clip(ndi.gaussian_filter(215 - 120 * shadow + grain, 0.8), 0, 255).astype(np.uint8)
    elif what == "cup":  # a dark solid body and its handle
        pil = Image.fromarray(img)
        d = ImageDraw.Draw(pil)
        d.polygon([(250, 150), (520, 150), (490, 450), (280, 450)], fill=60)
        d.ellipse([480, 200, 620, 360], outline=60, width=25)
        img = np.asarray(pil)
    else:              # a desk edge and a phone, nothing written
        img[:, 650:] = 50
        img[450:, 50:180] = 20
    with pytest.raises(UserError, match="no digits found"):
        preprocess.page(img)


def test_a_photos_one_mark_read_as_no_digit_is_no_digits_found():
    """What is left of an object (a cup's handle) is one mark the classifier cannot place:
    on a photo that is "no digits found"; a number's unsure digit, or a drawing's, is read."""
    page = preprocess.Page(gray=np.zeros((9, 9), np.float32), ink=np.zeros((9, 9), np.float32),
                           mask=np.zeros((9, 9), bool), dark_ink=True, threshold=0.1)
    vague = np.full((1, 10), 0.06, np.float32)
    vague[0, 1] = 0.46  # under half of what the model says at most
    with pytest.raises(UserError, match="no digits found.*a 1 at 0.46"):
        predict.lone_mark(page, vague, confident=0.9)
    predict.lone_mark(page, np.vstack([vague, vague]), confident=0.9)    # two marks: a number
    page.drawing = True
    predict.lone_mark(page, vague, confident=0.9)                          # the pad: read it
    page.drawing = False
    predict.lone_mark(page, vague, confident=0.9 * 0.91 * 0.9)            # smoothed: 0.41 is enough
    assert preprocess.page(seven()).drawing is True  # one flat tone of paper
    grain = np.random.default_rng(0).normal(0, 6, (400, 300))
    assert preprocess.page(np.clip(seven() + grain, 0, 255).astype(np.uint8)).drawing is False


def test_no_digits_exits_non_zero_for_one_image(project, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(project)
    img = np.full((300, 400), 225, np.uint8)
    img[:, 300:] = 40
    Image.fromarray(img).save(tmp_path / "desk.png")
    assert "desk.png: no digits found" in cli_error(capsys, tmp_path / "desk.png", "--model", "t",
                                                    "--debug", tmp_path / "why.png")
    assert Image.open(tmp_path / "why.png").size[0] > 800  # the steps, and what was rejected


def test_each_digit_carries_its_probability_and_unsure_ones_are_marked(model, mnist_test):
    Xt, yt = mnist_test
    img = page_of([[Xt[i].reshape(28, 28) for i in range(3)]], np.random.default_rng(6))
    proba = predict.digit_probabilities(img, model)
    assert proba.shape == (3, 10)
    assert predict.unsure(proba, confident=1.01) == [0, 1, 2]
    assert predict.describe(np.array([[0.5, 0.5] + [0] * 8])).endswith("?")


# ---- issue 21: any photo is read or refused in seconds; the CLI's one-line errors ----------

def test_a_speckled_photo_is_read_or_refused_in_seconds():
    import time
    rng = np.random.default_rng(0)
    img = np.full((1000, 1000), 230, np.uint8)
    ys, xs = rng.integers(0, 998, 20000), rng.integers(0, 998, 20000)
    for dy in range(2):
        for dx in range(2):
            img[ys + dy, xs + dx] = 30   # 20,000 specks of 2x2 pixels
    img[400:600, 480:500] = 30           # and a 1
    t = time.perf_counter()
    try:
        page = preprocess.page(img)
        assert len(page.inputs) <= 3
    except UserError:
        pass
    assert time.perf_counter() - t < 5


def test_out_or_debug_at_a_folder_is_one_line(project, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(project)
    Image.fromarray(seven()).save(tmp_path / "7_a.png")
    msg = cli_error(capsys, tmp_path / "7_a.png", "--model", "t", "--debug", tmp_path)
    assert "--debug" in msg and "folder" in msg
    msg = cli_error(capsys, "--evaluate", tmp_path, "--model", "t", "--out", tmp_path)
    assert "--out" in msg and "folder" in msg


def test_a_blank_image_among_several_names_its_file(project, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(project)
    Image.fromarray(seven()).save(tmp_path / "a.png")
    Image.new("L", (120, 90), 230).save(tmp_path / "blank.png")
    with pytest.raises(SystemExit) as exc:
        run(lambda: predict.main([str(tmp_path / "a.png"), str(tmp_path / "blank.png"),
                                  "--model", "t"]))
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "blank.png" in err[0] and "no ink" in err[0]


def test_an_animation_is_read_from_its_first_frame_with_a_notice(tmp_path, capsys, clean_seven):
    frames = [Image.fromarray(seven()), Image.fromarray(np.full((400, 300), 235, np.uint8))]
    frames[0].save(tmp_path / "two.gif", save_all=True, append_images=frames[1:])
    X = preprocess.digits(tmp_path / "two.gif")
    assert len(X) == 1 and similar(X[0], clean_seven) > 0.9
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 frames" in err[0] and "first" in err[0]


# ---- the photo benchmark and stroke widths -------------------------------------------------

def test_benchmark_pages_are_seeded_and_labelled(mnist_test, tmp_path):
    from recipes.handwriting import synth
    digits = synth.Digits(*mnist_test)
    a = synth.make_page(7, 3, digits, long_side=(300, 400))
    b = synth.make_page(7, 3, digits, long_side=(300, 400))
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and a[0].ndim == 3
    manifest = synth.generate(tmp_path / "pages", 3, 0, digits, long_side=(300, 400))
    files = sorted(p.name for p in (tmp_path / "pages").glob("*.jpg"))
    assert files == sorted(m["file"] for m in manifest)
    for m in manifest:
        assert m["file"].startswith(m["label"] + "_")
        assert m["label"] == "none" or all(part.isdigit() for part in m["label"].split("-"))
    assert json.loads((tmp_path / "pages" / "manifest.json").read_text())["seed"] == 0


def test_a_page_blended_only_where_the_weight_is_not_zero_is_the_same_page():
    """make_page blends ink, rules and clutter into the page only within the box where the
    weight is not zero (synth._support): value for value the whole page's blend, so the
    benchmark's pages stay what they were."""
    from recipes.handwriting import synth
    rng = np.random.default_rng(0)
    rgb = rng.random((40, 50, 3))
    weight = np.zeros((40, 50), np.float32)
    weight[9:21, 4:31] = rng.random((12, 27))
    weight[9, 4] = weight[20, 30] = 0.5          # the box's corners are inside it
    pen = np.array([0.1, 0.15, 0.45])
    whole = rgb * (1 - weight[..., None]) + pen * weight[..., None]
    ys, xs = synth._support(weight)
    assert (ys, xs) == (slice(9, 21), slice(4, 31))
    part = rgb.copy()
    inked = part[ys, xs]
    np.multiply(inked, 1 - weight[ys, xs, None], out=inked)
    inked += pen * weight[ys, xs, None]
    assert np.array_equal(part, whole)
    assert synth._support(np.zeros((4, 4), np.float32)) == (slice(0, 0), slice(0, 0))


def test_a_benchmark_line_is_never_cut_off_by_the_sheet(mnist_test):
    """A line wider than its sheet is written smaller, so every digit of the label is there."""
    from recipes.handwriting import synth
    digits = synth.Digits(*mnist_test)
    line, _ = synth.write_line([1, 2, 3, 4, 5, 6, 7, 8, 9, 0], 60, digits, np.random.default_rng(0), set())
    fitted = synth.fit_line(line, 300, 400)
    assert fitted.shape[1] <= 0.9 * 400 and fitted.shape[0] <= 0.9 * 300
    assert fitted.max() > 0.9 and synth.fit_line(fitted, 300, 400) is fitted


def test_the_desk_beside_a_sheet_in_perspective_is_no_digit():
    """Thin dark wedges along the frame (a sheet photographed at an angle) read as nothing."""
    img = np.full((600, 900), 220, np.uint8)
    rows = np.arange(600)
    for r in rows:  # left and right wedges, 0..12 px wide, and a strip along the bottom
        img[r, :int(12 * r / 600)] = 15
        img[r, 900 - int(10 * (600 - r) / 600):] = 15
    img[592:, :] = 15
    with pytest.raises(UserError, match="no digits found"):
        preprocess.page(img)


def test_two_digits_touching_side_by_side_are_two(model, mnist_test):
    """A group about 1.4 x as wide as tall is two digits even when the classifier would read
    the pair as one confidently: the width prior makes it choose a cut."""
    Xt, yt = mnist_test
    right = model.predict(Xt[:400]) == yt[:400]
    a, b = (int(np.flatnonzero((yt[:400] == d) & right)[0]) for d in (2, 5))
    pa, pb = Xt[a].reshape(28, 28), Xt[b].reshape(28, 28)
    ca, cb = np.flatnonzero(pa.any(0)), np.flatnonzero(pb.any(0))
    pa, pb = pa[:, ca[0]:ca[-1] + 1], pb[:, cb[0]:cb[-1] + 1]
    pair = np.zeros((28, pa.shape[1] + pb.shape[1] - 1), np.uint8)
    pair[:, :pa.shape[1]] = pa
    pair[:, pa.shape[1] - 1:] = np.maximum(pair[:, pa.shape[1] - 1:], pb)  # one column shared
    big = np.asarray(Image.fromarray(pair).resize((pair.shape[1] * 5, 140), Image.Resampling.BICUBIC),
                     np.float32) / 255
    img = np.full((300, 400), 0.92, np.float32)
    img[80:220, 60:60 + big.shape[1]] *= 1 - 0.85 * np.clip(big, 0, 1)
    page, proba = predict.read_page((img * 255).astype(np.uint8), model)
    assert len(page.inputs) == 2, predict.as_string(proba, page)


def test_stroke_variation_thickens_and_thins(mnist_test):
    import torch
    from recipes.handwriting import strokes
    x = torch.from_numpy(mnist_test[0][:64].reshape(-1, 1, 28, 28).astype(np.float32) / 255)
    ink = lambda t: float((t > 0.5).float().mean())
    assert ink(strokes.dilate(x, 3)) > ink(strokes.dilate(x, 2)) > ink(x) > ink(strokes.erode(x))
    gen = torch.Generator().manual_seed(0)
    y = strokes.vary(x, gen, thicker=0.5, thinner=0.5)
    assert y.shape == x.shape and not torch.equal(y, x)
    with pytest.raises(UserError, match="thicker"):
        strokes.check({"thicker": 2})


def _off_paper_whole(gray):
    """inkm.off_paper without its shortcut: the median over the whole image, always."""
    from scipy import ndimage as ndi
    from recipes.handwriting import filters
    from recipes.handwriting import ink as inkm
    small = inkm.resize(gray, inkm._shape_within(gray.shape, inkm.BG_SIDE), Image.Resampling.BOX)
    small = filters.median(small, 5)
    lab, n = ndi.label(small < inkm.OFF_PAPER * np.percentile(small, 90))
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    ring = np.r_[lab[0], lab[-1], lab[:, 0], lab[:, -1]]
    big = np.zeros(n + 1, bool)
    edge = np.unique(ring)
    big[edge] = areas[edge] >= inkm.OFF_PAPER_AREA * small.size
    big |= np.bincount(ring, minlength=n + 1) >= inkm.OFF_PAPER_ALONG * min(small.shape)
    big[0] = False
    if not big.any():
        return np.zeros(gray.shape, bool)
    return inkm.resize(filters.dilate(big[lab], 3).astype(np.float32), gray.shape) > 0.5


def test_off_paper_looks_past_the_frame_only_when_something_dark_reaches_it(mnist_test):
    """The shortcut (nothing dark at the frame: nothing off the paper) answers as the whole
    computation does, on benchmark pages (desks, phones, shadows), drawings and desks."""
    from recipes.handwriting import ink as inkm, synth
    digits = synth.Digits(*mnist_test)
    grays = [inkm.working_copy(inkm.load_gray(synth.make_page(11, k, digits, long_side=(300, 500))[0]))
             for k in range(24)]
    grays += [seven().astype(np.float32) / 255, np.full((40, 60), 0.9, np.float32)]
    desk = np.full((300, 400), 0.9, np.float32)
    desk[:, :30] = 0.1  # a dark desk along one side
    grays += [desk, desk.T.copy(), desk[:3, :4].copy()]
    off = [inkm.off_paper(g) for g in grays]
    assert all(np.array_equal(o, _off_paper_whole(g)) for o, g in zip(off, grays))
    assert sum(o.any() for o in off) >= 3 and sum(not o.any() for o in off) >= 3


def test_a_drawing_with_thick_strokes_is_read_at_a_size_enough_for_them(mnist_test):
    """The page's pad draws MNIST-thick strokes: such a drawing is reduced by block means
    (its paper still one exact tone), read the same, and a photo is left as it is."""
    from recipes.handwriting import ink as inkm, synth
    thick = seven(width=32).astype(np.float32) / 255  # 400x300, strokes 32 px wide
    small, paper = inkm.drawing_copy(thick)  # 32 px / 8 = 4, but 400 px / 128 caps it at 3
    assert small.shape == (134, 100) and paper == np.float32(235 / 255)
    assert np.count_nonzero(small == paper) >= 0.5 * small.size  # the paper kept flat, exactly
    assert preprocess.page(seven(width=32)).gray.shape == (134, 100)
    thin = seven().astype(np.float32) / 255  # 9 px strokes: enough as they are
    assert inkm.drawing_copy(thin)[0] is thin
    photo = inkm.working_copy(inkm.load_gray(synth.make_page(3, 0, synth.Digits(*mnist_test))[0]))
    out, paper = inkm.drawing_copy(photo)
    assert out is photo and paper is None
