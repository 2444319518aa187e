"""precision: fp32 | bf16 | auto, and the inference path every reader of a model uses."""

import numpy as np
import pytest
import torch

from recipes import models
from recipes.nets import inference, precision
from recipes.nets import layers as L

NET = {"kind": "net", "epochs": 1, "batch_size": 100, "optimizer": "adam", "lr": 0.003,
       "device": "cpu", "seed": 0,
       "layers": [{"type": "conv", "num_filters": 6, "filter_size": 5}, {"type": "pool"},
                  {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]}
CPU = torch.device("cpu")


def caps(monkeypatch, **flags):
    base = {"amx_bf16": False, "avx512_bf16": False}
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {**base, **flags})


@pytest.mark.parametrize("flags, chosen", [({"amx_bf16": True, "avx512_bf16": True}, "bf16"),
                                           ({"avx512_bf16": True}, "fp32"), ({}, "fp32")])
def test_auto_follows_what_the_hardware_reports(monkeypatch, flags, chosen):
    caps(monkeypatch, **flags)
    assert precision.resolve("auto", CPU) == chosen
    assert precision.resolve("fp32", CPU) == "fp32"


def test_bf16_forced_where_emulated_warns_in_one_line(monkeypatch, capsys):
    caps(monkeypatch)
    assert precision.resolve("bf16", CPU) == "bf16"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "emulated" in err[0]
    caps(monkeypatch, amx_bf16=True)
    precision.resolve("bf16", CPU)
    assert capsys.readouterr().err == ""


def test_forced_precisions_train_and_are_recorded(slice2000, monkeypatch):
    (X, y), (Xv, yv), (Xt, yt) = slice2000
    fp32 = models.create("t", {**NET, "precision": "fp32"}).fit(X, y, Xv, yv)
    bf16 = models.create("t", {**NET, "precision": "bf16"}).fit(X, y, Xv, yv)
    assert fp32.fit_info_["precision"] == "fp32" and bf16.precision_ == "bf16"
    # the same net in another precision: other sums, close figures
    assert fp32.history_[0]["train_loss"] != bf16.history_[0]["train_loss"]
    assert abs((fp32.predict(Xt) == yt).mean() - (bf16.predict(Xt) == yt).mean()) < 0.03
    caps(monkeypatch)  # no native bf16: a bf16 model is read in fp32
    bf16._prepared = (None,)
    assert bf16.predict_proba(Xt).dtype == np.float32


def test_the_inference_path_is_exact(slice2000):
    (X, y), _, (Xt, _) = slice2000
    layers = [{"type": "conv", "num_filters": 6, "filter_size": 5, "nonlinearity": "tanh"},
              {"type": "pool"}, {"type": "conv", "num_filters": 8, "filter_size": 3},
              {"type": "pool", "mode": "avg"}, {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]
    net = L.build(layers).eval()
    fast = inference.prepare(net, CPU)
    kinds = [type(m).__name__ for m in fast]
    assert kinds[:3] == ["Conv2d", "MaxPool2d", "Tanh"]          # pooled before the activation
    assert kinds[3:6] == ["Conv2d", "ReLU", "AvgPool2d"]         # an average does not commute
    x = torch.from_numpy(Xt[:700])
    with torch.no_grad():
        slow = net(x.float().div(255).view(-1, 1, 28, 28))
    assert torch.allclose(inference.logits(fast, x, CPU), slow, atol=1e-5)
    assert [type(m).__name__ for m in net][:3] == ["Conv2d", "Tanh", "MaxPool2d"]  # left as it was
