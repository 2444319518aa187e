"""The photos stage: MNIST training digits written on synthetic photos and cut by the reader."""

import numpy as np
import pytest

from recipes import config, errors, paths, tables
from recipes.errors import UserError
from recipes.handwriting import synth
from recipes.stages import photos

PAGES = 3


@pytest.fixture(scope="module")
def cut(mnist_train):
    X, y = mnist_train[0][:3000], mnist_train[1][:3000]
    return X, y, photos.photo_digits(X, y, PAGES, seed=7, workers=1)


def test_pages_give_their_digits_labelled_in_reading_order(cut):
    X, y, (Xp, yp, kept) = cut
    assert 0 < kept <= PAGES and Xp.shape == (len(yp), 784) and Xp.dtype == np.uint8
    # the labels are the pages' own, page by page, for the pages cut as written
    photos._init(X, y)
    digits = photos._digits
    want = []
    for k in range(PAGES):
        rgb, label, _ = synth.make_page(7, k, digits)
        got = photos.cut(7, k, digits)
        if got is not None:
            assert "".join(label.split("-")) == "".join(map(str, got[1]))
            want.append(got[1])
    assert (np.concatenate(want) == yp).all()
    # MNIST-like inputs: ink up to white, a black frame round each digit
    assert (Xp.max(1) == 255).all()
    frames = Xp.reshape(-1, 28, 28)[:, [0, -1], :]
    assert frames.max() == 0


@pytest.mark.slow
def test_same_table_whatever_the_number_of_workers(cut):
    X, y, (Xp, yp, kept) = cut
    Xq, yq, kept2 = photos.photo_digits(X, y, PAGES, seed=7, workers=2)
    assert kept2 == kept and (Xq == Xp).all() and (yq == yp).all()


def test_pen_shapes_are_drawn_at_random_not_the_benchmarks_templates(mnist_train):
    photos._init(mnist_train[0][:3000], mnist_train[1][:3000])
    assert photos._digits.drawn is synth.pen_digit and photos._digits.variants == photos.PEN_SHARE
    rng = np.random.default_rng(0)
    for d in (1, 2, 4, 7, 9):
        shapes = [synth.pen_digit(d, rng) for _ in range(20)]
        assert all(a.min() >= 0 and 0.5 < a.max() <= 1 for a in shapes)
        ratio = np.array([a.shape[1] / a.shape[0] for a in shapes])
        assert ratio.std() > 0.02, d   # proportions vary, not one template jittered


@pytest.mark.slow
def test_stage_writes_the_split_then_the_photo_digits(cut, tmp_path, monkeypatch, capsys):
    X, y, (Xp, yp, kept) = cut
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(
        f"photos: {{pages: {PAGES}, seed: 7}}\ntrain: {{models: [m]}}\nmodels: {{m: {{kind: logistic}}}}\n")
    tables.write(paths.TRAIN_SPLIT, X, y)
    errors.run(photos.main)
    Xt, yt = tables.read(paths.PHOTOS)
    n = len(X)
    assert (Xt[:n] == X).all() and (Xt[n:] == Xp).all() and (yt[n:] == yp).all()
    assert paths.PHOTOS_FIGURE.exists()
    assert f"+ {len(yp)} photo digits from {kept} of {PAGES} pages" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("photos: {pages: 3, seed: 0}", "photos.seed: value error, must not be 0 or 1"),
    ("photos: {pages: -1}", "photos.pages: input should be greater than or equal to 0"),
    ("photos: {page: 3}", "photos.page"),
])
def test_bad_photos_params_name_the_param(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text + "\ntrain: {models: [m]}\nmodels: {m: {kind: logistic}}\n")
    with pytest.raises(UserError, match=message):
        config.load(path)


def test_an_entry_on_photos_needs_pages(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train: {models: [m]}\nmodels: {m: {kind: logistic, data: photos}}\n")
    with pytest.raises(UserError, match=r"models\.m\.data: photos needs photos\.pages > 0"):
        config.resolve(config.load(path), "m")
    path.write_text("photos: {pages: 5}\ntrain: {models: [m]}\nmodels: {m: {kind: logistic, data: photos}}\n")
    assert config.resolve(config.load(path), "m")["data"] == "photos"
