"""The record nets' vocabulary (issue 18): residual blocks, global pooling, label smoothing
and an exponential moving average of the weights. The new options off (label_smoothing 0,
ema None) train exactly what the code trained before them, so the committed figures stay
reproducible."""

import copy
import subprocess
import sys
import tarfile
import io

import numpy as np
import pytest
import torch

from conftest import ROOT
from recipes import models
from recipes.errors import UserError
from recipes.nets import layers as L

# the last commit before these options: its nets are the committed figures' code
BEFORE = "7accfcdbae6cc51d38d1ef6e17c42825d41282d3"
OUT = {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}
RESNET = [{"type": "conv", "num_filters": 8, "filter_size": 3, "pad": "same"},
          {"type": "residual", "num_filters": 8},                  # identity skip
          {"type": "residual", "num_filters": 16, "stride": 2},    # 1x1 projection, stride 2
          {"type": "residual", "num_filters": 16, "batchnorm": False},
          {"type": "global_pool", "mode": "max"}, OUT]


def test_residual_and_global_pool_shapes_and_counts():
    rows, warnings = L.summary(RESNET)
    assert [r["output"] for r in rows] == [[8, 28, 28], [8, 28, 28], [16, 14, 14], [16, 14, 14], [16], [10]]
    # conv 8 x (1*3*3 + 1) = 80
    # residual 8->8, bn: 8*8*9 + 8*8*9 (no biases) + 2 batchnorms x (scale, shift) x 8 = 1,184
    # residual 8->16 /2, bn: 16*8*9 + 16*16*9 + 2*2*16 + projection 16*8 + 2*16 = 3,680
    # residual 16->16, no bn: 16*16*9 + 16 + 16*16*9 + 16 = 4,640 (identity skip)
    # global_pool 0; dense 10 x (16 + 1) = 170
    assert [r["params"] for r in rows] == [80, 1_184, 3_680, 4_640, 0, 170]
    net = L.build(RESNET)
    assert L.count_params(net) == 9_754 == sum(r["params"] for r in rows)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    # 3x3: 3; each block adds two 3x3 convs, the second block's second at stride 2's jump
    assert [r["receptive_field"] for r in rows] == [3, 7, 13, 21, 28, 28] and warnings == []
    avg = L.build([{"type": "residual", "num_filters": 4, "filter_size": 5},
                   {"type": "global_pool"}, {"type": "dropout", "p": 0.1}, OUT])
    assert avg(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    # 5x5 same 1->4 with bn: 4*1*25 + 4*4*25 + 16, projection 4*1 + 8; dense 10*(4+1)
    assert L.count_params(avg) == 100 + 400 + 16 + 12 + 50


@pytest.mark.parametrize("layers, message", [
    ([{"type": "dense", "num_units": 5}, {"type": "residual", "num_filters": 4}, OUT],
     "layers[1] (residual): a residual layer cannot follow a dense layer"),
    ([{"type": "global_pool"}, {"type": "conv", "num_filters": 4, "filter_size": 3}, OUT],
     "layers[1] (conv): a conv layer cannot follow a global_pool layer"),
    ([{"type": "residual", "num_filters": 4, "filter_size": 4}, OUT],
     "layers[0].filter_size: value error, must be odd"),
    ([{"type": "global_pool", "mode": "sum"}, OUT], "layers[0].mode"),
    ([{"type": "residual", "num_filter": 4}, OUT], "num_filter: unknown key (did you mean num_filters?)"),
])
def test_bad_new_layers_are_one_line(layers, message):
    with pytest.raises(UserError, match="^n: ") as e:
        L.build(layers, "n")
    assert message in str(e.value) and "\n" not in str(e.value)


def small(**kw):
    entry = {"kind": "net", "epochs": 2, "batch_size": 100, "optimizer": "adam", "lr": 0.003,
             "seed": 7, "device": "cpu", "threads": 1, "precision": "fp32",
             "layers": [{"type": "conv", "num_filters": 6, "filter_size": 5},
                        {"type": "batchnorm"}, {"type": "pool", "pool_size": 2},
                        {"type": "dropout", "p": 0.2}, OUT]}
    return {**entry, **kw}


@pytest.mark.slow  # two trainings in processes of their own: about 15 s
def test_options_off_train_what_the_code_trained_before(slice2000, tmp_path):
    """label_smoothing 0 and ema None: the same trained weights, bit for bit, as the commit
    before them (run from `git archive` of it, in a process of its own). The probabilities
    agree to float rounding only: the inference path has changed since (batchnorm folding,
    the pool moved ahead of monotone maps), and on some CPUs its kernels round differently."""
    try:
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", BEFORE, "recipes"],
                             capture_output=True, check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.skip(f"no git history with {BEFORE[:7]} here")
    tarfile.open(fileobj=io.BytesIO(tar)).extractall(tmp_path / "before", filter="data")
    (X, y), (Xv, yv), (Xt, _) = slice2000
    np.savez(tmp_path / "data.npz", X=X[:1000], y=y[:1000], Xv=Xv, yv=yv, Xt=Xt)
    script = ("import sys, numpy as np\nfrom recipes import models\n"
              "d = np.load(sys.argv[1]); entry = eval(sys.argv[2])\n"
              "m = models.create('t', entry).fit(d['X'], d['y'], d['Xv'], d['yv'])\n"
              "np.save(sys.argv[3], m.predict_proba(d['Xt']))\n"
              "np.save(sys.argv[3] + '.w.npy', np.concatenate([v.detach().float().reshape(-1).numpy()"
              " for v in m.net_.state_dict().values()]))\n")
    for tree, entry, out in ((tmp_path / "before", small(), "before.npy"),
                             (ROOT, small(label_smoothing=0.0, ema=None), "now.npy")):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / "data.npz"), repr(entry),
                        str(tmp_path / out)], cwd=tmp_path, check=True,
                       env={"PYTHONPATH": str(tree), "PATH": ""})
    before, now = np.load(tmp_path / "before.npy"), np.load(tmp_path / "now.npy")
    assert np.array_equal(np.load(tmp_path / "before.npy.w.npy"), np.load(tmp_path / "now.npy.w.npy"))
    assert before.shape == (1000, 10) and np.allclose(before, now, rtol=0, atol=1e-5)
    assert np.array_equal(before.argmax(1), now.argmax(1))


def fit(slice2000, **kw):
    (X, y), (Xv, yv), _ = slice2000
    return models.create("t", small(**kw)).fit(X[:1000], y[:1000], Xv, yv)


def weights(m):
    return {k: v.clone() for k, v in m.net_.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_ema_keeps_the_average_and_leaves_training_alone(slice2000):
    plain, ema = fit(slice2000), fit(slice2000, ema=0.9)
    # the average is read, never trained: the training losses are the same, bit for bit
    assert [r["train_loss"] for r in ema.history_] == [r["train_loss"] for r in plain.history_]
    assert not same(weights(ema), weights(plain))   # what is kept is the average
    # decay 0: the average is the weights themselves
    assert same(weights(fit(slice2000, ema=0.0)), weights(plain))


def test_ema_resumes_from_its_checkpoint(slice2000, tmp_path):
    (X, y), (Xv, yv), (Xt, _) = slice2000
    entry = small(ema=0.8, epochs=3)
    whole = models.create("t", entry).fit(X[:1000], y[:1000], Xv, yv)

    def stop(row, predict):
        if row["epoch"] == 2:
            raise KeyboardInterrupt
    ckpt = tmp_path / "last.pt"
    with pytest.raises(KeyboardInterrupt):
        models.create("t", entry).fit(X[:1000], y[:1000], Xv, yv, callbacks=[stop], checkpoint=ckpt)
    resumed = models.create("t", entry).fit(X[:1000], y[:1000], Xv, yv, checkpoint=ckpt)
    assert np.array_equal(resumed.predict_proba(Xt), whole.predict_proba(Xt))


def test_label_smoothing_is_cross_entropys(slice2000):
    plain, smooth = fit(slice2000, epochs=1), fit(slice2000, epochs=1, label_smoothing=0.2)
    # smoothed targets: a loss that cannot reach 0, higher than the plain one's
    assert smooth.history_[0]["train_loss"] > plain.history_[0]["train_loss"]
    with pytest.raises(UserError, match="label_smoothing: input should be less than 1"):
        fit(slice2000, label_smoothing=1.0)
    with pytest.raises(UserError, match="ema: input should be greater than or equal to 0"):
        fit(slice2000, ema=-0.1)


def test_a_residual_net_learns(slice2000):
    (X, y), (Xv, yv), (Xt, yt) = slice2000
    layers = [{"type": "residual", "num_filters": 8}, {"type": "pool"}, OUT]
    m = models.create("r", small(layers=layers, ema=0.5, label_smoothing=0.1)).fit(X, y, Xv, yv)
    assert (m.predict(Xt) == yt).mean() > 0.8


def test_shift_moves_the_image_by_one_pixel_with_zeros_shifted_in():
    from recipes.nets.inference import shift
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 3] = 1.0                       # top right corner
    down = shift(x, 1, 0)
    assert down[0, 0, 1, 3] == 1 and down.sum() == 1
    assert shift(x, 0, 1).sum() == 0          # moved out of the frame to the right
    assert shift(x, -1, 0).sum() == 0         # and out of the top
    assert shift(x, 1, -1)[0, 0, 1, 2] == 1


def test_tta_averages_the_probabilities_of_the_moved_images(slice2000):
    """tta 4: the mean of the softmax of the image and of its four one-pixel moves, computed
    here with numpy; tta 0 is the plain prediction (tta is read by predict_proba only)."""
    _, _, (Xt, _) = slice2000
    plain = fit(slice2000)
    with_tta = copy.deepcopy(plain).set_params(tta=4)
    X = Xt[:200]
    images = X.reshape(-1, 28, 28)
    views = [X]
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        moved = np.zeros_like(images)
        moved[:, max(dy, 0):28 + min(dy, 0), max(dx, 0):28 + min(dx, 0)] = \
            images[:, max(-dy, 0):28 + min(-dy, 0), max(-dx, 0):28 + min(-dx, 0)]
        views.append(moved.reshape(-1, 784))
    expected = np.mean([plain.predict_proba(v) for v in views], axis=0)
    assert np.allclose(with_tta.predict_proba(X), expected, atol=1e-6)
    assert not np.allclose(plain.predict_proba(X), expected, atol=1e-4)
    assert np.allclose(with_tta.predict_proba(X).sum(1), 1, atol=1e-5)
    with pytest.raises(UserError, match="tta"):
        models.create("t", small(tta=3))


def test_tta_is_in_the_onnx_file(slice2000, tmp_path):
    import onnxruntime as ort
    from recipes.export import to_onnx
    _, _, (Xt, _) = slice2000
    model = fit(slice2000, tta=8)
    path = to_onnx(model, tmp_path / "m.onnx")
    got = ort.InferenceSession(str(path)).run(None, {"pixels": Xt[:100]})[0]
    assert np.allclose(got, model.predict_proba(Xt[:100]), atol=1e-4)
