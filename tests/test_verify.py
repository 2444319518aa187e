"""The photo reader's part verifier: its training parts, its net, its files, its stage, and
what it changes in the cut search."""

import json

import numpy as np
import pytest
import torch

from recipes import config, errors, paths, tables
from recipes.errors import UserError
from recipes.handwriting import preprocess, read, segment, synth, verify
from recipes.nets import layers as L
from recipes.stages import verifier as stage

LAYERS = [{"type": "conv", "num_filters": 4, "filter_size": 3, "pad": "same"},
          {"type": "pool", "pool_size": 4},
          {"type": "dense", "num_units": 3, "nonlinearity": "softmax"}]


@pytest.fixture(scope="module")
def parts(train_digits):
    return verify.parts(*train_digits, 200, seed=5)


def test_parts_hold_all_three_kinds_as_28x28_inputs(parts):
    X, y = parts
    assert X.dtype == np.uint8 and X.shape == (len(y), 784) and len(y) > 200
    counts = np.bincount(y, minlength=3)
    assert (counts > 20).all(), counts
    assert (X.max(1) == 255).all()


def test_parts_are_the_same_however_the_groups_are_split(train_digits, parts):
    X, y = parts
    head = verify.parts(*train_digits, 120, seed=5)
    tail = verify.parts(*train_digits, 80, seed=5, first=120)
    assert np.array_equal(np.concatenate([head[0], tail[0]]), X)
    assert np.array_equal(np.concatenate([head[1], tail[1]]), y)
    assert not np.array_equal(verify.parts(*train_digits, 120, seed=6)[1], head[1])


def test_the_whole_group_is_labelled_by_how_many_digits_it_holds(train_digits):
    d = synth.Digits(*train_digits, variants=0.0)
    seen = set()
    for k in range(40):
        rng = np.random.default_rng([3, k])
        ink, owner, h = verify.group(d, rng)
        n = owner.max() + 1
        totals = np.bincount(owner[owner >= 0], minlength=n)
        whole = verify.label(owner >= 0, owner, totals)
        assert whole == (verify.ONE if n == 1 else verify.SEVERAL), (k, n)
        # one digit's own ink alone is that digit; its left half is a piece
        first = owner == 0
        assert verify.label(first, owner, totals) == verify.ONE
        cols = np.flatnonzero(first.any(0))
        half = first & (np.arange(owner.shape[1]) < cols[len(cols) // 2])
        assert verify.label(half, owner, totals) == verify.PIECE
        seen.add(n)
    assert seen == {1, 2, 3}


def test_a_net_of_three_outputs_builds_only_for_three(tmp_path):
    assert L.build(LAYERS, "v", 3)(torch.zeros(2, 1, 28, 28)).shape == (2, 3)
    with pytest.raises(L.LayerError, match="num_units: 10"):
        L.build(LAYERS, "NetClassifier")
    with pytest.raises(L.LayerError, match="num_units: 3"):
        L.build(LAYERS[:-1] + [{"type": "dense", "num_units": 10, "nonlinearity": "softmax"}], "v", 3)


def test_verifier_fits_saves_and_loads_the_same(parts, tmp_path):
    X, y = parts
    v = verify.PartVerifier(layers=LAYERS, optimizer="adam", lr=0.01, epochs=1, batch_size=64,
                            seed=1, threads=1, precision="fp32")
    assert v.fit(X, y) is v and list(v.classes_) == [0, 1, 2]
    p = v.predict_proba(X[:50])
    assert p.shape == (50, 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    logp = verify.whole_logp(v, X[:50])
    assert np.allclose(logp, np.log(p[:, verify.ONE]), atol=1e-5)
    verify.save(v, tmp_path / "pv", "pv", {"accuracy": 0.5})
    back = verify.load(tmp_path / "pv")
    assert np.array_equal(back.predict_proba(X[:50]), p) and back.name_ == "pv"
    # what the reader loads by name, and not at all when it is not trained or asked for
    assert read.load_verifier("none") is None
    assert read.load_verifier(tmp_path / "pv").name_ == "pv"
    assert read.load_verifier(back) is back


def test_a_bad_verifier_folder_is_one_line(tmp_path):
    with pytest.raises(UserError, match=r"no part verifier here \(missing verifier.json\)"):
        verify.load(tmp_path)
    (tmp_path / verify.META).write_text(json.dumps({"kind": "net"}))
    with pytest.raises(UserError, match="not a part verifier's file"):
        verify.load(tmp_path)
    (tmp_path / verify.META).write_text(json.dumps({"kind": "part_verifier", "params": {"layers": LAYERS}}))
    with pytest.raises(UserError, match=r"incomplete part verifier folder \(net.pt missing\)"):
        verify.load(tmp_path)
    (tmp_path / "net.pt").write_bytes(b"not weights")
    with pytest.raises(UserError, match="the part verifier cannot be read"):
        verify.load(tmp_path)


def test_the_verifier_joins_each_parts_reading_in_the_cut_search(overlapping_sevens):
    """Two overlapping 7s that a digit model reads surely as one 7 (and each half unsurely):
    the cut search keeps them whole, unless the verifier says the whole is several digits."""
    photo, classify = overlapping_sevens.photo, overlapping_sevens.classify
    assert len(preprocess.page(photo, classify=classify).inputs) == 1
    same = preprocess.page(photo, classify=classify, verify=lambda X: np.zeros(len(X)))
    assert len(same.inputs) == 1
    assert len(preprocess.page(photo, classify=classify, verify=overlapping_sevens.several).inputs) == 2


def test_the_reader_adds_the_verifiers_term_to_each_parts_reading():
    coverage = np.zeros((40, 40), np.float32)
    coverage[5:35, 18:23] = 1.0
    part = coverage[5:35, 10:30] > 0.5
    proba = np.full((1, 10), 0.02, np.float32)
    proba[0, 1] = 0.82
    plain = preprocess._reader(np.pad(coverage, 1), lambda X: proba)([part], 5, 10)
    checked = preprocess._reader(np.pad(coverage, 1), lambda X: proba,
                                 lambda X: np.full(len(X), -0.7))([part], 5, 10)
    assert np.allclose(plain, np.log(0.82)) and np.allclose(checked, np.log(0.82) - 0.7)


def test_a_group_read_as_no_one_digit_is_cut_through_more_ink():
    """Two brackets joined by two bars: every cut between them crosses two strokes, more
    than a cut may (segment.WAIST); read as one digit it is kept whole, but read as no one
    digit (what only a verifier's term brings a reading to) it is cut through both bars."""
    region = np.zeros((40, 40), bool)
    region[2:38, 4:10] = region[2:38, 30:36] = True      # the two sides
    region[8:14, 4:36] = region[26:32, 4:36] = True      # the two bars joining them
    ref = 40.0
    assert len(segment.cut_paths(region, ref)[0]) == 0
    assert len(segment.cut_paths(region, ref, segment.DEEPER)[0]) >= 1

    def read(whole):
        return lambda parts: np.array([whole if segment._width(p) > 25 else -0.1 for p in parts])

    assert len(segment.split_wide(region, ref, read(-0.5))) == 1
    parts = segment.split_wide(region, ref, read(segment.MERGED_LOGP - 2))
    assert len(parts) == 2 and all(segment._width(p) < 25 for p in parts)
    assert (parts[0] | parts[1]).sum() >= 0.9 * region.sum()


@pytest.mark.slow
def test_stage_trains_the_entry_and_reports_held_out_parts(train_digits, tmp_path, monkeypatch, capsys):
    X, y = train_digits
    monkeypatch.chdir(tmp_path)
    entry = {"groups": 60, "held_out": 20, "seed": 3, "layers": LAYERS, "epochs": 1,
             "threads": 1, "precision": "fp32"}
    (tmp_path / "params.yaml").write_text(json.dumps(
        {"train": {"models": ["m"], "verifiers": ["pv"]}, "models": {"m": {"kind": "logistic"}},
         "verifiers": {"pv": entry}}))
    tables.write(paths.TRAIN_SPLIT, X, y)
    monkeypatch.setattr("sys.argv", ["verifier", "pv"])
    errors.run(stage.main)
    m = json.loads(paths.metrics("pv").read_text())
    cm = np.array(m["confusion"])
    assert cm.shape == (3, 3) and cm.sum() == m["held_out_parts"] > 0
    assert m["accuracy"] == round(np.trace(cm) / cm.sum(), 4)
    assert m["train_parts"] == len(verify.parts(X, y, 60, 3)[1])
    v = verify.load(paths.model_dir("pv"))
    assert v.epochs == 1 and v.name_ == "pv"
    assert "verifier: pv:" in capsys.readouterr().err


def test_bad_verifier_params_name_the_param(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train: {models: [m], verifiers: [pv]}\nmodels: {m: {kind: logistic}}\n")
    with pytest.raises(UserError, match="train.verifiers: no entry `pv` under verifiers"):
        config.load(path)
    path.write_text("train: {models: [m]}\nmodels: {m: {kind: logistic}}\n"
                    "verifiers: {pv: {groups: 0, layers: [{type: dense, num_units: 3, nonlinearity: softmax}]}}\n")
    with pytest.raises(UserError, match="verifiers.pv.groups"):
        config.load(path)
    path.write_text("train: {models: [m]}\nmodels: {m: {kind: logistic}}\nverifiers: {pv: {groups: 5}}\n")
    with pytest.raises(UserError, match="verifiers.pv.layers"):
        config.load(path)
