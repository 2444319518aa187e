"""The speedrun configurations of params.yaml are valid entries that build and train on the
CPU: one epoch on 512 images."""

import sys

import numpy as np
import pytest
import torch
import yaml

from conftest import ROOT
from recipes import config, models, nets

sys.path.insert(0, str(ROOT / "benchmarks"))
import speedrun  # noqa: E402

PARAMS_MODELS = yaml.safe_load((ROOT / "params.yaml").read_text()).get("models", {})
NAMES = [n for n in ("speedrun", "speedrun_995") if n in PARAMS_MODELS]


def entry(name):
    e, _source = speedrun.load_entry(name, None)
    return e


def test_speedrun_is_defined():
    assert "speedrun" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_valid_and_pins_threads_and_precision(name):
    e = entry(name)
    config.validate(e, config.NetEntry, f"models.{name}")
    # its figures hold only with the thread count and precision it was timed with
    assert e.get("threads") and e.get("precision") in ("fp32", "bf16")


@pytest.mark.parametrize("name", NAMES)
def test_builds_and_trains_one_epoch_on_512_images(name, mnist_train):
    X, y = mnist_train
    e = {**speedrun.hyper(entry(name)), "epochs": 1, "seed": 0, "device": "cpu"}
    net = nets.build(e["layers"], name)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    model = models.create(name, e).fit(X[:512], y[:512])
    proba = model.predict_proba(X[512:640])
    assert proba.shape == (128, 10) and np.isfinite(proba).all()
    assert model.fit_info_["epochs"] == 1


def test_a_batchnorm_applies_its_nonlinearity_after_normalising():
    """`{type: batchnorm, nonlinearity: relu}`: Lasagne's batch_norm(layer) order; the speedrun
    pools before it, so the normalisation and the ReLU run on a quarter of the values."""
    layers = [{"type": "conv", "num_filters": 4, "filter_size": 5, "nonlinearity": "linear"},
              {"type": "pool"}, {"type": "batchnorm", "nonlinearity": "relu"},
              {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]
    net = nets.build(layers)
    assert [type(m).__name__ for m in net] == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU",
                                               "Flatten", "Linear"]
    assert nets.count_params(net) == 4 * 26 + 2 * 4 + (4 * 12 * 12 + 1) * 10
    plain = nets.build([{**layers[0]}, layers[1], {"type": "batchnorm"}, layers[3]])
    assert "ReLU" not in [type(m).__name__ for m in plain]


def test_photo_digits_are_taken_only_from_a_table_of_the_split(tmp_path, mnist_train):
    """`--photos`: the photos stage's table (the split, then its photo digits) gives its photo
    digits; a table that does not begin with the split given is refused, one line, since its
    rows could hold validation digits."""
    from recipes import tables
    from recipes.errors import UserError
    X, y = mnist_train
    split, extra = (X[:300], y[:300]), (X[300:340], y[300:340])
    path = tmp_path / "train_photos.parquet"
    tables.write(path, np.concatenate([split[0], extra[0]]), np.concatenate([split[1], extra[1]]))
    Xp, yp = speedrun.photo_digits(path, *split)
    assert np.array_equal(Xp, extra[0]) and np.array_equal(yp, extra[1])
    with pytest.raises(UserError, match="does not begin with the pipeline's"):
        speedrun.photo_digits(path, X[1:301], y[1:301])
