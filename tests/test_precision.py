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
                                           ({"avx512_bf16": True}, "bf16"), ({}, "fp32")])
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
    assert kinds[:3] == ["Conv2d", "Pool2x2", "Tanh"]            # pooled before the activation
    assert kinds[3:6] == ["Conv2d", "ReLU", "AvgPool2d"]         # an average does not commute
    x = torch.from_numpy(Xt[:700])
    with torch.no_grad():
        slow = net(x.float().div(255).view(-1, 1, 28, 28))
    assert torch.allclose(inference.logits(fast, x, CPU), slow, atol=1e-5)
    assert [type(m).__name__ for m in net][:3] == ["Conv2d", "Tanh", "MaxPool2d"]  # left as it was


def test_batchnorm_is_folded_or_pooled_past_and_the_logits_stay(slice2000):
    """A batchnorm after a conv is folded into it; one after a ReLU, with positive scales,
    runs after the pool; with a negative scale it stays before it (a max does not commute
    with a decreasing map)."""
    (X, _), _, (Xt, _) = slice2000
    layers = [{"type": "conv", "num_filters": 6, "filter_size": 5, "nonlinearity": "linear"},
              {"type": "batchnorm"}, {"type": "pool"},
              {"type": "conv", "num_filters": 8, "filter_size": 3, "nonlinearity": "relu"},
              {"type": "batchnorm"}, {"type": "pool"},
              {"type": "dense", "num_units": 16, "nonlinearity": "linear"}, {"type": "batchnorm"},
              {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]
    torch.manual_seed(0)
    net = L.build(layers)
    with torch.no_grad():  # statistics and scales as training would leave them
        for m in net:
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    net.eval()
    x = torch.from_numpy(Xt[:300])
    with torch.no_grad():
        slow = net(x.float().div(255).view(-1, 1, 28, 28))
    fast = inference.prepare(net, CPU)
    kinds = [type(m).__name__ for m in fast]
    assert kinds[:2] == ["Conv2d", "Pool2x2"]                        # the first batchnorm folded
    assert kinds[2:6] == ["Conv2d", "Pool2x2", "ReLU", "BatchNorm2d"]  # pool first, then both
    assert "BatchNorm1d" not in kinds                                  # folded into its dense
    assert torch.allclose(inference.logits(fast, x, CPU), slow, atol=1e-4)
    with torch.no_grad():
        net[5].weight[0] = -1.0                                        # one decreasing channel
        slow = net(x.float().div(255).view(-1, 1, 28, 28))
    kinds = [type(m).__name__ for m in inference.prepare(net, CPU)]
    assert kinds[2:6] == ["Conv2d", "ReLU", "BatchNorm2d", "Pool2x2"]
    assert torch.allclose(inference.logits(inference.prepare(net, CPU), x, CPU), slow, atol=1e-4)


@pytest.mark.parametrize("size", [24, 13, 8])
def test_pool2x2_is_max_pooling(size):
    x = torch.randn(5, 7, size, size + 1).contiguous(memory_format=torch.channels_last)
    assert torch.equal(inference.Pool2x2()(x), torch.nn.MaxPool2d(2)(x))
    assert torch.equal(inference.Pool2x2()(x.contiguous()), torch.nn.MaxPool2d(2)(x))
