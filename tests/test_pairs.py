"""The photo reader's pair reader: its examples, its net and files, its stage, and how the
reader turns a part it reads as a pair into two digits."""

import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from recipes import config, errors, paths, tables
from recipes.errors import UserError
from recipes.handwriting import ink, pairs, preprocess, read, verify
from recipes.stages import verifier as stage

LAYERS = [{"type": "conv", "num_filters": 4, "filter_size": 3, "pad": "same"},
          {"type": "pool", "pool_size": 4},
          {"type": "dense", "num_units": 101, "nonlinearity": "softmax"}]


@pytest.fixture(scope="module")
def examples(train_digits):
    return pairs.examples(*train_digits, 300, seed=5)


def test_examples_are_pairs_labelled_left_to_right_and_single_digits(train_digits, examples):
    X, y = examples
    assert X.dtype == np.uint8 and X.shape == (300, 784) and (X.max(1) == 255).all()
    assert 0.45 < (y < pairs.ONE).mean() < 0.75 and y.max() <= pairs.ONE
    assert len(np.unique(y[y < pairs.ONE])) > 80        # most of the hundred pairs
    # a pair's label is its digits left to right, as verify.write placed them
    d = pairs.synth.Digits(*train_digits, variants=0.0)
    ink_, owner, _, labels = verify.write(d, np.random.default_rng([2, 0]), 2, pairs.OVERLAP)
    lefts = [np.flatnonzero((owner == k).any(0)).mean() for k in range(2)]
    assert lefts[0] < lefts[1] and len(labels) == 2


def test_examples_are_the_same_however_they_are_split(train_digits, examples):
    X, y = examples
    head, tail = pairs.examples(*train_digits, 170, seed=5), pairs.examples(*train_digits, 130, seed=5, first=170)
    assert np.array_equal(np.concatenate([head[0], tail[0]]), X)
    assert np.array_equal(np.concatenate([head[1], tail[1]]), y)
    workers = stage.parts(*train_digits, 300, 5, workers=2, write=pairs.examples)
    assert np.array_equal(workers[0], X) and np.array_equal(workers[1], y)


def test_verify_write_keeps_the_verifiers_groups_as_they_were(train_digits):
    """verify.group is verify.write of a drawn count: the verifier's training parts (and so
    the trained verifier) do not change with the pair reader's examples beside them."""
    d = pairs.synth.Digits(*train_digits, variants=0.0)
    for k in range(10):
        a = verify.group(d, np.random.default_rng([4, k]))
        rng = np.random.default_rng([4, k])
        n = int(rng.choice(verify.SIZES, p=verify.SIZE_P))
        b = verify.write(d, rng, n)
        assert all(np.array_equal(u, v) for u, v in zip(a, b[:3])) and len(b[3]) == n


def test_a_frame_side_touches_the_digit_and_stands_taller():
    digit = np.zeros((40, 24), np.float32)
    digit[2:38, 10:14] = 1.0
    for k in range(20):
        out = pairs.framed(digit, 36.0, np.random.default_rng(k))
        assert out.shape[0] >= digit.shape[0] and out.shape[1] > 4
        full = np.flatnonzero((out > 0.5).all(0))        # the bar runs the whole height
        assert len(full) >= 2
        assert ndi.label(out > 0.5)[1] == 1              # touching: one part, as the reader sees it


def test_a_piece_left_on_a_digit_is_a_few_of_its_neighbours_columns_on_the_near_side(train_digits):
    d = pairs.synth.Digits(*train_digits, variants=0.0)
    for k in range(20):
        rng = np.random.default_rng([6, k])
        _, owner, _, _ = verify.write(d, rng, 2, pairs.OVERLAP)
        region = pairs.pieced(owner, rng)
        kept = [np.flatnonzero((region & (owner == j)).any(0)) for j in (0, 1)]
        whole = 0 if np.array_equal(region & (owner == 0), owner == 0) else 1
        assert np.array_equal(region & (owner == whole), owner == whole)
        other = np.flatnonzero((owner == 1 - whole).any(0))
        if len(kept[1 - whole]):   # the piece: on the side that meets the whole digit
            assert len(kept[1 - whole]) <= pairs.PIECE[1] * len(other) + 2
            near = other[0] if whole == 0 else other[-1]
            assert near in kept[1 - whole]


def test_square_keeps_a_wide_parts_height_and_leaves_a_narrow_one():
    narrow = np.zeros((60, 30), np.float32)
    narrow[5:55, 12:18] = 1.0
    assert np.array_equal(ink.square(narrow), ink.to_mnist(narrow))
    wide = np.zeros((60, 150), np.float32)
    wide[5:55, 10:16] = wide[5:55, 130:136] = 1.0
    wide[28:32, 10:136] = 1.0
    rows = np.flatnonzero(ink.square(wide).any(1))
    assert rows[-1] - rows[0] + 1 >= 19                   # a digit's height, not a fifth of it
    assert np.flatnonzero(ink.to_mnist(wide).any(1)).size < 10


def test_as_two_gives_each_digits_marginals():
    p = np.zeros(101)
    p[70], p[71], p[pairs.ONE] = 0.6, 0.3, 0.1
    left, right, best = pairs.as_two(p)
    assert best == pytest.approx(0.6) and left.argmax() == 7 and right.argmax() == 0
    assert left[7] == pytest.approx(1.0) and right[0] == pytest.approx(0.6 / 0.9)
    assert np.isclose(left.sum(), 1) and np.isclose(right.sum(), 1)


def test_pair_reader_fits_saves_and_loads_the_same(examples, tmp_path):
    X, y = examples
    r = pairs.PairReader(layers=LAYERS, optimizer="adam", lr=0.01, epochs=1, batch_size=64,
                         seed=1, threads=1, precision="fp32")
    assert r.fit(X, y) is r and len(r.classes_) == 101
    p = r.predict_proba(X[:20])
    assert p.shape == (20, 101) and np.allclose(p.sum(1), 1, atol=1e-5)
    verify.save(r, tmp_path / "pr", "pr", {})
    back = read.load_verifier(tmp_path / "pr", read.DEFAULT_PAIRS)
    assert isinstance(back, pairs.PairReader) and np.array_equal(back.predict_proba(X[:20]), p)
    assert read.load_verifier("none", read.DEFAULT_PAIRS) is None
    # a pair reader is no part verifier, and the other way round: one line each
    with pytest.raises(UserError, match="not a part verifier's file"):
        read.load_verifier(tmp_path / "pr")
    with pytest.raises(UserError, match=r"no pair reader here \(missing verifier.json\)"):
        verify.load(tmp_path, pairs.PairReader)


def test_labels_beyond_the_digits_need_a_net_of_as_many_outputs(examples):
    X, y = examples
    with pytest.raises(ValueError, match="digits 0..9"):
        tables.check(X, y)
    assert tables.check(X, y, 101)[1].max() == pairs.ONE


class _Fixed:
    """A stand-in net: the same probabilities for every input."""

    def __init__(self, row):
        self.row = np.asarray(row, np.float64)

    def predict_proba(self, X):
        return np.tile(self.row, (len(X), 1))


def _page():
    page = preprocess.Page(gray=np.zeros((10, 10)), ink=np.zeros((10, 10)),
                           mask=np.zeros((10, 10), bool), dark_ink=True, threshold=0.1)
    page.inputs = np.arange(5 * 784, dtype=np.uint8).reshape(5, 28, 28) % 7
    page.squares = page.inputs + 100
    page.boxes = [(0, 0, 10, 10), (20, 0, 40, 10), (50, 0, 60, 10), (0, 30, 10, 40), (20, 30, 30, 40)]
    page.lines = [[0, 1, 2], [3, 4]]
    return page


def _proba(n):
    p = np.full((n, 10), 0.01, np.float32)
    p[:, 3] = 0.91
    return p


def test_a_part_read_as_a_pair_becomes_two_digits_in_its_line():
    pair = np.zeros(101)
    pair[70] = 0.95
    pair[pairs.ONE] = 0.05
    several = np.zeros(3)
    several[verify.SEVERAL] = 0.9
    page, proba = _page(), _proba(5)
    out = read.read_pairs(page, proba, None, _Fixed(pair))       # every part asked: all five split
    assert read.as_string(out, page) == "707070 7070" and len(page.boxes) == 10
    page = _page()
    verifier = type("V", (), {"predict_proba": lambda self, X: np.where(
        np.arange(len(X))[:, None] == 1, several, [0.5, 0.5, 0.0])})()
    out = read.read_pairs(page, _proba(5), verifier, _Fixed(pair))
    assert read.as_string(out, page) == "3703 33" and page.lines == [[0, 1, 2, 3], [4, 5]]
    assert page.boxes[1:3] == [(20, 0, 30, 10), (30, 0, 40, 10)] and page.boxes[3] == (50, 0, 60, 10)
    assert np.array_equal(page.inputs[1], page.inputs[2]) and page.inputs[1][0, 0] >= 100
    assert out.dtype == np.float32 and out.shape == (6, 10)


def test_a_part_stays_one_digit_unless_the_pair_is_sure_and_beats_one():
    for row in ({70: 0.4, pairs.ONE: 0.1}, {70: 0.45, pairs.ONE: 0.55}):
        p = np.zeros(101)
        for k, v in row.items():
            p[k] = v
        page, proba = _page(), _proba(5)
        out = read.read_pairs(page, proba, None, _Fixed(p))
        assert np.array_equal(out, proba) and len(page.boxes) == 5
    page, proba = _page(), _proba(5)
    assert read.read_pairs(page, proba, None, None) is proba


def test_a_parts_reading_as_a_pair_needs_the_verifiers_several_and_a_sure_pair():
    pair = np.zeros(101)
    pair[70], pair[pairs.ONE] = 0.9, 0.1

    def verifier(several):
        row = np.array([0.0, 1 - several, several])
        return type("V", (), {"predict_proba": lambda self, X: np.tile(row, (len(X), 1))})()

    X = np.zeros((2, 784), np.uint8)
    got = read.two_digits(verifier(0.8), _Fixed(pair))(X, X)
    assert np.allclose(got, np.log(0.9) + verify.WEIGHT * np.log(0.8))
    assert np.isneginf(read.two_digits(verifier(0.4), _Fixed(pair))(X, X)).all()
    unsure = pair.copy()
    unsure[70], unsure[71] = 0.5, 0.4
    assert np.isneginf(read.two_digits(verifier(0.8), _Fixed(unsure))(X, X)).all()
    assert read.two_digits(None, _Fixed(pair)) is None and read.two_digits(verifier(0.8), None) is None


def test_the_verifier_answers_each_batch_of_parts_once_for_both_readings():
    asked = []

    class Net:
        def predict_proba(self, X):
            asked.append(len(X))
            return np.tile([0.1, 0.1, 0.8], (len(X), 1))

    once = read._LastAnswer(Net())
    X = np.zeros((3, 784), np.uint8)
    read.whole_digit(once)(X)
    read.two_digits(once, _Fixed(np.eye(101)[70]))(X, X)
    assert asked == [3]
    once.predict_proba(X.copy())                    # another batch is asked again
    assert asked == [3, 3]


def test_the_cut_search_keeps_whole_what_reads_better_as_a_pair(overlapping_sevens):
    """Two overlapping 7s that the verifier calls several digits are cut in two; offered as
    a pair that reads better than any cut, they stay one part (which read_pairs reads as two)."""
    s = overlapping_sevens

    def as_pair(X, S):
        assert S.shape == X.shape
        return np.where(s.wide(X), np.log(0.99), -np.inf)

    assert len(preprocess.page(s.photo, classify=s.classify, verify=s.several).inputs) == 2
    kept = preprocess.page(s.photo, classify=s.classify, verify=s.several, pair=as_pair)
    assert len(kept.inputs) == 1 and len(kept.squares) == 1
    assert np.flatnonzero(kept.squares[0].any(1)).size >= 19   # squeezed: a digit's height


@pytest.mark.slow
def test_stage_trains_a_pair_reader_and_reports_its_figures(train_digits, tmp_path, monkeypatch, capsys):
    X, y = train_digits
    monkeypatch.chdir(tmp_path)
    entry = {"kind": "pair_reader", "groups": 80, "held_out": 40, "seed": 3, "layers": LAYERS,
             "epochs": 1, "threads": 1, "precision": "fp32"}
    (tmp_path / "params.yaml").write_text(json.dumps(
        {"train": {"models": ["m"], "verifiers": ["pr"]}, "models": {"m": {"kind": "logistic"}},
         "verifiers": {"pr": entry}}))
    tables.write(paths.TRAIN_SPLIT, X, y)
    monkeypatch.setattr("sys.argv", ["verifier", "pr"])
    errors.run(stage.main)
    m = json.loads(paths.metrics("pr").read_text())
    assert m["held_out_pairs"] + m["held_out_single"] == m["held_out_parts"] == 40
    assert set(m["recall"]) == {"pairs", "one digit"} and 0 <= m["pairs_read_as_one"] <= 1
    assert m["train_parts"] == 80
    r = verify.load(paths.model_dir("pr"), pairs.PairReader)
    assert r.epochs == 1 and r.name_ == "pr"
    assert "verifier: pr:" in capsys.readouterr().err


def test_a_pair_readers_params_are_checked(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train: {models: [m]}\nmodels: {m: {kind: logistic}}\n"
                    "verifiers: {pr: {kind: pairs, layers: [{type: dense, num_units: 101}]}}\n")
    with pytest.raises(UserError, match="verifiers.pr.kind"):
        config.load(path)
    path.write_text("train: {models: [m]}\nmodels: {m: {kind: logistic}}\n"
                    "verifiers: {pr: {kind: pair_reader, layers: [{type: dense, num_units: 101}]}}\n")
    assert config.load(path).verifiers["pr"].kind == "pair_reader"
