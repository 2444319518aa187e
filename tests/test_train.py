"""The resolve and train stages on MNIST slices, without DVC."""

import json

import pytest
import yaml

from conftest import assert_one_line_error, np, run_module
from recipes import config, paths, tables
from recipes.stages import resolve, train

NET = {"kind": "net", "epochs": 2, "batch_size": 100, "optimizer": "adam", "lr": 0.003,
       "device": "cpu",
       "layers": [{"type": "dense", "num_units": 32, "nonlinearity": "relu"},
                  {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}],
       "reference": {"accuracy": 0.9, "source": "a paper"}}


def params(**entry) -> dict:
    return {"seed": 5, "epochs": 1, "threads": 1, "train": {"models": ["n"]},
            "models": {"n": {**NET, **entry}}}


@pytest.fixture
def workdir(slice2000, tmp_path, monkeypatch):
    """A folder with the split, validation and test tables the train stage reads."""
    (X, y), (Xv, yv), (Xt, yt) = slice2000
    tables.write(tmp_path / paths.TRAIN_SPLIT, X, y)
    tables.write(tmp_path / paths.EXPANDED, X, y)
    tables.write(tmp_path / paths.VAL, Xv, yv)
    tables.write(tmp_path / paths.TEST, Xt, yt)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_resolved_entry_inherits_what_it_does_not_pin(workdir):
    p = config.validate(params(), config.Params)
    r = resolve.resolve(p, "n")
    assert r["params"]["seed"] == 5 and r["params"]["threads"] == 1  # inherited
    assert r["params"]["epochs"] == 2                                # pinned by the entry
    assert r["params"]["momentum"] == 0.0                            # the estimator's default
    assert "reference" not in json.dumps(r)
    assert set(r["tables"]) == {str(paths.TRAIN_SPLIT), str(paths.VAL), str(paths.TEST)}
    # a citation, a top-level key the kind does not read: the same resolved entry
    other = config.validate({**params(reference={"accuracy": 0.5, "source": "x"})}, config.Params)
    assert resolve.resolve(other, "n") == r
    logistic = config.validate({**params(), "models": {"n": {"kind": "logistic"}}, "epochs": 9},
                               config.Params)
    assert resolve.resolve(logistic, "n")["params"] == {"C": 1.0, "max_iter": 100, "seed": 5}


def test_validation_is_held_out_by_default(workdir, slice2000):
    (X, y), (Xv, yv), _ = slice2000
    X_, y_, Xv_, yv_ = train.training_data({"data": "train_split", "train_on_val": False})
    assert np.array_equal(X_, X) and np.array_equal(Xv_, Xv) and np.array_equal(yv_, yv)


def test_train_on_val_learns_from_both_and_keeps_the_last_epoch(workdir, slice2000):
    (X, y), (Xv, yv), _ = slice2000
    r = resolve.resolve(config.validate(params(train_on_val=True), config.Params), "n")
    X_, y_, Xv_, yv_ = train.training_data(r)
    assert Xv_ is None and yv_ is None
    assert np.array_equal(X_, np.concatenate([X, Xv])) and np.array_equal(y_, np.concatenate([y, yv]))

    info = train.train("n", r, workdir / "models/n", live_dir=workdir / "live")
    assert info["train_images"] == len(X) + len(Xv)
    assert info["best_epoch"] == info["epochs"] == 2 and info["best_val_acc"] is None
    saved = json.loads((workdir / "models/n/train.json").read_text())
    assert saved["best_val_acc"] is None and saved["cpu"]  # valid JSON: no NaN
    curves = workdir / "live/plots/metrics"
    assert (curves / "train_loss.tsv").exists() and (curves / "best_test_acc.tsv").exists()
    assert not (curves / "val_acc.tsv").exists()


def test_one_resolve_writes_every_entry_or_none(workdir, monkeypatch):
    both = params()
    both["models"]["m"] = {**NET, "epochs": 3}
    both["train"]["models"] = ["n", "m"]
    (workdir / "params.yaml").write_text(yaml.safe_dump(both))
    monkeypatch.setattr("sys.argv", ["resolve"])
    resolve.main()
    n, m = (json.loads(paths.resolved(x).read_text()) for x in ("n", "m"))
    assert n["params"]["epochs"] == 2 and m["params"]["epochs"] == 3
    assert n["tables"] == m["tables"] == {str(p): resolve.md5(p)
                                          for p in (paths.TRAIN_SPLIT, paths.VAL, paths.TEST)}
    # an entry config refuses only when resolving it: no file written, not even the first's
    for name in ("n", "m"):
        paths.resolved(name).unlink()
    both["models"]["m"].update(train_on_val=True, data="expanded")
    (workdir / "params.yaml").write_text(yaml.safe_dump(both))
    with pytest.raises(Exception, match="models.m.train_on_val"):
        resolve.main()
    assert not paths.resolved("n").exists()


def test_train_on_val_with_expanded_data_is_refused():
    p = config.validate(params(train_on_val=True, data="expanded"), config.Params)
    with pytest.raises(Exception, match="models.n.train_on_val: works with data: train_split only"):
        config.resolve(p, "n")


@pytest.mark.slow
def test_stages_from_the_command_line(workdir):
    (workdir / "params.yaml").write_text(yaml.safe_dump(params()))
    run_module("recipes.stages.resolve", cwd=workdir, check=True)
    proc = run_module("recipes.stages.train", "n", cwd=workdir, check=True)
    assert "n: epoch 2/2: loss" in proc.stderr and "test " in proc.stderr
    assert (workdir / "models/n/model.json").exists() and (workdir / "models/n/summary.txt").exists()
    # a table that changed after resolve: one line, not a silently stale model
    X, y = tables.read(paths.VAL)
    tables.write(paths.VAL, X[:10], y[:10])
    assert_one_line_error(run_module("recipes.stages.train", "n", cwd=workdir),
                          "data/tables/val.parquet changed since", "dvc repro")


@pytest.mark.parametrize("mistake, message", [
    ({"train_on_val": 1}, "models.n.train_on_val: input should be a valid boolean, got 1"),
    ({"learning_rate": 0.1}, "models.n.learning_rate: unknown key (did you mean lr?)"),
    ({"momentun": 0.9}, "models.n.momentun: unknown key (did you mean momentum?)"),
    ({"epoch": 3}, "models.n.epoch: unknown key (did you mean epochs?)"),
])
def test_bad_entry_is_one_line_from_the_command(workdir, mistake, message):
    (workdir / "params.yaml").write_text(yaml.safe_dump(params(**mistake)))
    assert_one_line_error(run_module("recipes.stages.resolve", cwd=workdir), message)
    assert not (workdir / "models/n").exists() and not paths.resolved("n").exists()


def test_a_resumed_run_counts_the_seconds_of_before(workdir):
    # the rows a resumed run replays from its checkpoint carry the seconds they took then
    log = train.EpochLog("n", None, tables.read(paths.TEST))
    log({"epoch": 1, "epochs": 3, "val_acc": 0.9, "best": True, "best_epoch": 1, "seconds": 9.5,
         "best_test_acc": 0.91}, None)
    log({"epoch": 2, "epochs": 3, "val_acc": 0.9, "best": False, "best_epoch": 1, "seconds": 3.0}, None)
    assert log.replayed_seconds == 12.5 and log.best_test == 0.91


def test_the_epoch_line_says_which_epoch_is_kept(workdir):
    # with validation the best epoch is kept; a final fit (train_on_val) keeps the last
    log = train.EpochLog("n", None, tables.read(paths.TEST))
    row = {"epoch": 4, "epochs": 5, "best_epoch": 3, "best_test_acc": 0.99}
    assert "test 99.00% at best epoch 3" in log.line({**row, "val_acc": 0.98})
    assert "no validation, test 99.00% at last epoch 3" in log.line({**row, "val_acc": None})
