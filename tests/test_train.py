import json

import pytest
import yaml

from conftest import assert_one_line_error, np, run_module
from recipes import tables
from recipes.stages import train
from recipes.errors import UserError

NET = {"kind": "net", "epochs": 2, "batch_size": 100, "optimizer": "adam", "lr": 0.003, "seed": 0,
       "device": "cpu",
       "layers": [{"type": "dense", "num_units": 32, "nonlinearity": "relu"},
                  {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]}


@pytest.fixture
def workdir(slice2000, tmp_path, monkeypatch):
    """A folder with the split, validation and test tables the train stage reads."""
    (X, y), (Xv, yv), (Xt, yt) = slice2000
    tables.write(tmp_path / "data/tables/train_split.parquet", X, y)
    tables.write(tmp_path / "data/tables/val.parquet", Xv, yv)
    tables.write(tmp_path / "data/tables/test.parquet", Xt, yt)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_validation_is_held_out_by_default(workdir, slice2000):
    (X, y), (Xv, yv), _ = slice2000
    X_, y_, Xv_, yv_ = train.training_data("n", NET)
    assert np.array_equal(X_, X) and np.array_equal(Xv_, Xv) and np.array_equal(yv_, yv)


def test_train_on_val_learns_from_both_and_keeps_the_last_epoch(workdir, slice2000):
    (X, y), (Xv, yv), _ = slice2000
    X_, y_, Xv_, yv_ = train.training_data("n", {**NET, "train_on_val": True})
    assert Xv_ is None and yv_ is None
    assert np.array_equal(X_, np.concatenate([X, Xv])) and np.array_equal(y_, np.concatenate([y, yv]))

    info = train.train("n", {**NET, "train_on_val": True}, workdir / "models/n",
                       live_dir=workdir / "live")
    assert info["train_images"] == len(X) + len(Xv)
    assert info["best_epoch"] == info["epochs"] == 2 and info["best_val_acc"] is None
    saved = json.loads((workdir / "models/n/train.json").read_text())
    assert saved["best_val_acc"] is None  # valid JSON: no NaN
    curves = workdir / "live/plots/metrics"
    assert (curves / "train_loss.tsv").exists() and (curves / "best_test_acc.tsv").exists()
    assert not (curves / "val_acc.tsv").exists()


@pytest.mark.parametrize("entry, message", [
    ({**NET, "train_on_val": "yes"}, "models.n.train_on_val: must be true or false"),
    ({**NET, "train_on_val": True, "data": "expanded"}, "models.n.train_on_val: works with data: train_split only"),
    ({**NET, "data": "all"}, "models.n.data: must be one of train_split, expanded"),
])
def test_bad_data_choice(workdir, entry, message):
    with pytest.raises(UserError, match=message):
        train.training_data("n", entry)


def test_bad_train_on_val_is_one_line_from_the_command(workdir):
    params = {"seed": 0, "epochs": 1, "device": "cpu", "models": {"n": {**NET, "train_on_val": 1}}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert_one_line_error(run_module("recipes.stages.train", "n", cwd=workdir),
                          "models.n.train_on_val", "true or false")
    assert not (workdir / "models/n").exists()
