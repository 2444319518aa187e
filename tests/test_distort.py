"""recipes.distort (elastic, affine, shift) and the expand stage, on real MNIST digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from recipes import distort, errors, idx, paths, tables
from recipes.stages import expand
from recipes.errors import UserError

@pytest.fixture(scope="module")
def digits(mnist_test) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 test digits as uint8 rows [N, 784] and labels ($MNIST_DIR, as every test)."""
    return mnist_test


def unit(X: np.ndarray) -> torch.Tensor:
    return tables.to_unit(torch.from_numpy(np.array(X))).view(-1, 1, 28, 28)


def plan(**cfg) -> dict:
    return expand.check({"seed": 3, "elastic": {"alpha": 34, "sigma": 4},
                         "affine": {"degrees": 10, "scale": [0.9, 1.1], "shear": 10,
                                    "translate": 2}, **cfg})


def test_zero_alpha_and_identity_affine_give_the_input_bit_for_bit(digits):
    x = unit(digits[0][:64])
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(distort.elastic(x, gen, alpha=0.0, sigma=4.0), x)
    assert torch.equal(distort.affine(x, gen), x)
    assert torch.equal(distort.distort(x, gen, elastic={"alpha": 0}, affine={}), x)
    assert not torch.equal(distort.elastic(x, gen), x)


def test_shift_moves_every_pixel_by_exactly_one():
    x = torch.randint(1, 256, (5, 1, 28, 28), dtype=torch.uint8)
    for dy, dx in expand.SHIFTS:
        moved = distort.shift(x, dy, dx)
        want = np.roll(x.numpy(), (dy, dx), axis=(2, 3))
        if dy:
            want[:, :, 0 if dy > 0 else -1, :] = 0
        if dx:
            want[:, :, :, 0 if dx > 0 else -1] = 0
        assert np.array_equal(moved.numpy(), want), (dy, dx)
        assert (moved == 0).sum() == 5 * 28  # exactly one row or column of zeros came in
    assert torch.equal(distort.shift(x.float(), 0, 0), x.float())
    assert not distort.shift(x, 28, 0).any()


def test_expand_keeps_labels_and_writes_originals_times_one_plus_copies(digits, tmp_path):
    X, y = digits[0][:300], digits[1][:300]
    rows = expand.expand(X, y, plan(copies=2, transforms=["elastic", "affine"]),
                         tmp_path / "t.parquet", tmp_path / "d.png")
    X2, y2 = tables.read(tmp_path / "t.parquet")
    assert rows == len(y2) == 300 * 3
    assert np.array_equal(y2, np.tile(y, 3))
    assert np.array_equal(X2[:300], X)
    assert not np.array_equal(X2[300:600], X2[600:])  # fresh draws for every copy
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Nielsen's expand_mnist: the four one-pixel shifts, exactly
    expand.expand(X, y, plan(copies=4, transforms=["shift"]), tmp_path / "s.parquet")
    X3, y3 = tables.read(tmp_path / "s.parquet")
    assert len(y3) == 300 * 5 and np.array_equal(y3, np.tile(y, 5))
    images = torch.from_numpy(np.array(X)).view(-1, 1, 28, 28)
    for c, (dy, dx) in enumerate(expand.SHIFTS, 1):
        want = distort.shift(images, dy, dx).reshape(300, -1).numpy()
        assert np.array_equal(X3[c * 300:(c + 1) * 300], want)


def test_same_seed_same_distortions_and_table(digits, tmp_path):
    x = unit(digits[0][:100])
    one = distort.distort(x, torch.Generator().manual_seed(5), {"alpha": 34}, {"degrees": 10})
    two = distort.distort(x, torch.Generator().manual_seed(5), {"alpha": 34}, {"degrees": 10})
    assert torch.equal(one, two)
    X, y = digits[0][:300], digits[1][:300]
    tables_ = []
    for seed in (7, 7, 8):
        path = tmp_path / f"{seed}.parquet"
        expand.expand(X, y, plan(copies=1, seed=seed, transforms=["elastic"]), path)
        tables_.append(tables.read(path)[0])
    assert np.array_equal(tables_[0], tables_[1])
    assert not np.array_equal(tables_[0][300:], tables_[2][300:])


@pytest.mark.parametrize("sigma", [2.0, 4.0])
def test_elastic_field_matches_smoothed_uniform_noise(sigma):
    """Our low-rank Gaussian field against Simard's recipe done by scipy, pixel by pixel."""
    n, alpha = 2000, 34.0
    ours = distort.field(n, torch.Generator().manual_seed(1), alpha, sigma).numpy()
    noise = np.random.default_rng(0).uniform(-1, 1, (n, 28, 28))
    ref = alpha * gaussian_filter(noise, sigma, axes=(1, 2))
    dx = ours[:, 0]
    assert abs(dx.std() / ref.std() - 1) < 0.05
    assert abs(ours[:, 1].std() / ref.std() - 1) < 0.05
    for pixel in [(0, 0), (14, 14), (3, 20)]:  # the reflecting border makes corners move more
        assert abs(dx[:, pixel[0], pixel[1]].std() / ref[:, pixel[0], pixel[1]].std() - 1) < 0.1
    for lag in (2, 4, 8):  # the smoothness: correlation of pixels `lag` apart along a row
        def corr(a):
            return (a[:, :, :-lag] * a[:, :, lag:]).mean() / (a * a).mean()
        assert abs(corr(dx) - corr(ref)) < 0.05
    # every image its own field: none shared, none correlated with its neighbour's or its dy
    assert abs((dx[0::2] * dx[1::2]).mean() / (dx * dx).mean()) < 0.05
    assert abs((dx * ours[:, 1]).mean() / (dx * dx).mean()) < 0.05
    assert len({f.tobytes() for f in dx}) == n


def test_distorted_digits_still_read_as_their_label(digits):
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits
    X, y = digits
    with threadpool_limits(1):  # BLAS threads on a busy 2-core machine: 40 times slower
        clf = LogisticRegression(C=0.1, max_iter=150).fit(tables.to_unit(X[:3000]), y[:3000])
    held, labels = X[3000:4000], y[3000:4000]
    gen = torch.Generator().manual_seed(0)
    for name, kw in [("elastic", {"elastic": {"alpha": 34, "sigma": 4}}),
                     ("affine", {"affine": {"degrees": 10, "scale": [0.9, 1.1], "shear": 10,
                                            "translate": 1}})]:
        moved = distort.distort(unit(held), gen, **kw).view(len(held), -1).numpy()
        acc = (clf.predict(moved) == labels).mean()
        assert acc > 0.6, f"{name}: {acc:.1%} of distorted digits read as their label"


@pytest.mark.parametrize("cfg, message", [
    ({"elastic": {"alpha": 34, "sigma": 0}},
     r"^m\.augment\.elastic\.sigma: must be a number > 0, got 0$"),
    ({"elastic": {"alpha": -1}}, r"^m\.augment\.elastic\.alpha: must be a number >= 0"),
    ({"elastic": {"alpha": "big"}}, r"^m\.augment\.elastic\.alpha: "),
    ({"elastic": {"sigm": 4}}, r"^m\.augment\.elastic: unknown key sigm"),
    ({"elastic": {}, "blur": 1}, r"^m\.augment: unknown key blur"),
    ({"affine": {"scale": [1.1, 0.9]}}, r"^m\.augment\.affine\.scale: "),
    ({"affine": {"scale": 0.9}}, r"^m\.augment\.affine\.scale: "),
    ({"affine": {"shear": 90}}, r"^m\.augment\.affine\.shear: "),
    ({"affine": {"translate": -2}}, r"^m\.augment\.affine\.translate: "),
    ({"affine": {"degrees": True}}, r"^m\.augment\.affine\.degrees: "),
    ({}, r"^m\.augment: expected a mapping"),
    ({"strokes": {"thicker": 1.5}}, r"^m\.augment\.strokes: thicker \+ thinner must be at most 1"),
    ({"strokes": {"thicker": -0.1}}, r"^m\.augment\.strokes\.thicker: must be a probability"),
    ({"strokes": {"bolder": 0.3}}, r"^m\.augment\.strokes: expected \{thicker: P, thinner: P\}"),
])
def test_bad_augment_params_name_the_param(cfg, message):
    with pytest.raises(UserError, match=message):
        distort.batch_augmenter(cfg, "m.augment")


@pytest.mark.parametrize("cfg, message", [
    ({"copies": -1}, r"^expand\.copies: must be a whole number >= 0, got -1$"),
    ({"copies": 2.5}, r"^expand\.copies: "),
    ({"copies": 1, "transforms": ["blur"]}, r"^expand\.transforms: unknown transform 'blur'"),
    ({"copies": 1, "transforms": []}, r"^expand\.transforms: list at least one"),
    ({"copies": 1, "transforms": ["elastic"], "elastic": {"sigma": -4}},
     r"^expand\.elastic\.sigma: "),
    ({"copies": 1, "transforms": ["shift"], "elastic": {"alpha": -1}},  # checked even unused
     r"^expand\.elastic\.alpha: "),
    ({"copies": 1, "transforms": ["shift"], "seed": "x"}, r"^expand\.seed: "),
    ({"copis": 1}, r"^expand: unknown key copis"),
])
def test_bad_expand_params_name_the_param(cfg, message):
    with pytest.raises(UserError, match=message):
        expand.check(cfg)


def _project(tmp_path: Path, digits, expand_section: str) -> None:
    (tmp_path / "params.yaml").write_text(
        f"seed: 1\ntrain: {{models: [m]}}\nmodels: {{m: {{kind: logistic}}}}\nexpand:\n{expand_section}")
    tables.write(tmp_path / paths.TRAIN_SPLIT, digits[0][:40], digits[1][:40])


def test_stage_runs_and_bad_params_exit_1_leaving_nothing(digits, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _project(tmp_path, digits, "  copies: 2\n  transforms: [elastic, shift]\n")
    errors.run(expand.main)
    assert len(tables.read(paths.EXPANDED)[1]) == 120 and paths.EXPAND_FIGURE.exists()
    assert "= 120 rows" in capsys.readouterr().err

    for path in (paths.EXPANDED, paths.EXPAND_FIGURE):
        path.unlink()
    _project(tmp_path, digits,
             "  copies: 2\n  transforms: [elastic]\n  elastic: {alpha: 34, sigma: 0}\n")
    with pytest.raises(SystemExit) as exit_:
        errors.run(expand.main)
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err == "error: params.yaml: expand.elastic.sigma: input should be greater than 0, got 0\n"
    assert not paths.EXPANDED.exists() and not paths.EXPAND_FIGURE.exists()
    assert sorted(p.name for p in paths.EXPANDED.parent.iterdir()) == ["train_split.parquet"]


def test_training_with_augment_runs_end_to_end(digits, tmp_path):
    from recipes.nets import NetClassifier
    X, y = digits[0][:256], digits[1][:256]
    layers = [{"type": "dense", "num_units": 32},
              {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]
    net = NetClassifier(layers=layers,
                        optimizer="adam", lr=0.003, batch_size=64, epochs=2, device="cpu",
                        augment={"elastic": {"alpha": 34, "sigma": 4}, "affine": {"degrees": 10}})
    net.fit(X, y, X[:128], y[:128])
    assert len(net.history_) == 2 and net.history_[-1]["train_loss"] < net.history_[0]["train_loss"]
    bad = NetClassifier(layers=layers, epochs=1, device="cpu", augment={"elastic": {"sigma": -1}})
    with pytest.raises(UserError, match=r"^NetClassifier: augment\.elastic\.sigma: "):
        bad.fit(X, y)


def test_strokes_augment_thickens_or_thins_after_the_moves(digits):
    """`augment: {strokes: ...}`: the stroke-width variation chained after elastic/affine."""
    x = unit(digits[0][:128])
    ink = lambda t: float((t > 0.5).float().mean())
    bold = distort.batch_augmenter({"strokes": {"thicker": 1.0, "thinner": 0.0}}, "m.augment")
    fine = distort.batch_augmenter({"strokes": {"thicker": 0.0, "thinner": 1.0}}, "m.augment")
    assert ink(bold(x, torch.Generator().manual_seed(0))) > ink(x) > ink(fine(x, torch.Generator().manual_seed(0)))
    none = distort.batch_augmenter({"strokes": {"thicker": 0.0, "thinner": 0.0}}, "m.augment")
    assert torch.equal(none(x, torch.Generator().manual_seed(0)), x)
    both = {"affine": {"degrees": 10}, "strokes": {"thicker": 0.5}}
    a = distort.batch_augmenter(both, "m.augment")(x, torch.Generator().manual_seed(1))
    b = distort.batch_augmenter(both, "m.augment")(x, torch.Generator().manual_seed(1))
    moved = distort.batch_augmenter({"affine": {"degrees": 10}}, "m.augment")(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, moved)  # seeded, and more than the moves


def test_a_net_entry_takes_augment_strokes(digits):
    from recipes import config, models
    entry = {"kind": "net", "epochs": 1, "batch_size": 64, "device": "cpu", "threads": 1,
             "layers": [{"type": "dense", "num_units": 10, "nonlinearity": "softmax"}],
             "augment": {"affine": {"degrees": 5}, "strokes": {"thicker": 0.3, "thinner": 0.15}}}
    net = models.create("m", entry).fit(digits[0][:256], digits[1][:256])
    assert net.augment["strokes"] == {"thicker": 0.3, "thinner": 0.15} and len(net.history_) == 1
    with pytest.raises(UserError, match=r"^models\.m: augment\.strokes\.thicker: "):
        models.create("m", {**entry, "augment": {"strokes": {"thicker": 2}}})
    from conftest import ROOT
    params = config.load(ROOT / "params.yaml")
    assert params.models["photo_cnn"].augment.strokes is not None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_same_seed_same_distortions_on_cuda(digits):
    x = unit(digits[0][:256])
    cfg = {"elastic": {"alpha": 34, "sigma": 4}, "affine": {"degrees": 10, "translate": 2}}
    cpu = distort.distort(x, torch.Generator().manual_seed(9), **cfg)
    gpu = distort.distort(x.cuda(), torch.Generator().manual_seed(9), **cfg)
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)
