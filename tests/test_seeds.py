"""Seeds as an axis: `seeds: [1, 2]` in an entry, `<entry>+<seed>` in train.models (each seed
its own train@/evaluate@/report@ stages), seeds@<entry> and the leaderboard report
the spread over every declared seed."""

import copy
import json
import statistics

import numpy as np
import pytest
import yaml

from conftest import ROOT
from recipes import config, models, seeds
from recipes.errors import UserError
from recipes.stages import leaderboard
from recipes.stages import seeds as seeds_stage

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
TINY = {"kind": "net", "optimizer": "adam", "lr": 0.003, "batch_size": 100, "epochs": 1,
        "device": "cpu", "threads": 1, "precision": "fp32",
        "layers": [{"type": "conv", "num_filters": 4, "filter_size": 5}, {"type": "pool"},
                   {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]}


def params_with(tmp_path, change=None, **train):
    p = copy.deepcopy(PARAMS)
    p["models"]["tiny"] = {**TINY, "seeds": [1, 2, 3]}
    p["train"] = {"models": ["logistic", "tiny+1", "tiny+2", "tiny+3"], "committees": [],
                  "seeds_of": ["tiny"], **train}
    if change:
        change(p)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    return config.load(tmp_path / "params.yaml")


def test_resolve_sets_the_seed_and_leaves_seeds_out(tmp_path):
    params = params_with(tmp_path)
    r1, r2 = config.resolve(params, "tiny+1"), config.resolve(params, "tiny+2")
    assert (r1["name"], r1["params"]["seed"], r2["params"]["seed"]) == ("tiny+1", 1, 2)
    assert "seeds" not in r1["params"]
    assert {k: v for k, v in r1["params"].items() if k != "seed"} == \
           {k: v for k, v in r2["params"].items() if k != "seed"}
    assert config.split_seed("tiny+12") == ("tiny", 12) and config.split_seed("lenet") == ("lenet", None)


MISTAKES = [  # (train lists or a change of the entries, the line)
    ({"models": ["tiny+4", "tiny+1", "tiny+2", "tiny+3"]}, "train.models: `tiny+4`: seed 4 is not in models.tiny.seeds [1, 2, 3]"),
    ({"models": ["tiny"], "seeds_of": []}, "train.models: `tiny` has seeds [1, 2, 3]: list tiny+1, tiny+2, tiny+3"),
    ({"models": ["lenet+1"], "seeds_of": []}, "train.models: `lenet+1`: models.lenet has no `seeds:`"),
    ({"models": ["tiny+x"], "seeds_of": []}, "train.models: `tiny+x`: expected <entry>+<seed>"),
    ({"models": ["tiny+1", "tiny+3"]}, "train.seeds_of: tiny: tiny+2 not in train.models (the spread is over all of models.tiny.seeds [1, 2, 3])"),
    ({"seeds_of": ["tiny", "lenet"]}, "train.seeds_of: models.lenet has no `seeds:`"),
    ({"change": lambda p: p["models"]["tiny"].update(seed=5)}, "models.tiny: seed and seeds: give one"),
    ({"change": lambda p: p["models"]["tiny"].update(seeds=[1, 1])}, "models.tiny.seeds: value error, must be distinct seeds"),
    ({"change": lambda p: p["models"].update({"a+b": TINY})}, "models.a+b: `+` is kept for <entry>+<seed>"),
]


@pytest.mark.parametrize("train, line", MISTAKES, ids=[m[1][:40] for m in MISTAKES])
def test_mistakes_are_one_line(tmp_path, train, line):
    with pytest.raises(UserError) as e:
        params_with(tmp_path, **train)
    assert line in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_distinct_seeds_distinct_models_same_seed_same_model(tmp_path, slice2000):
    (X, y), (Xv, yv), (Xt, _) = slice2000
    params = params_with(tmp_path)

    def fit(name):
        r = config.resolve(params, name)
        return models.from_params(r["kind"], r["params"]).fit(X[:1000], y[:1000], Xv, yv).predict_proba(Xt)

    one, two, again = fit("tiny+1"), fit("tiny+2"), fit("tiny+1")
    assert not np.array_equal(one, two)
    assert np.array_equal(one, again)


def rows_of(root, accs):
    (root / "data/leaderboard").mkdir(parents=True, exist_ok=True)
    for s, acc in accs.items():
        row = {"model": f"tiny+{s}", "accuracy": acc, "error": round(1 - acc, 4), "n_params": 1000,
               "train_seconds": 10.0 + s, "predict_images_per_s": 5000, "kind": "net",
               "device": "cpu", "test_images": 10000, "seed": s, "threads": 1, "cpu_capability": "avx2"}
        (root / f"data/leaderboard/tiny+{s}.json").write_text(json.dumps(row))
    (root / "data/leaderboard/logistic.json").write_text(json.dumps(
        {"model": "logistic", "accuracy": 0.9251, "error": 0.0749, "n_params": 7850, "train_seconds": 9.0,
         "predict_images_per_s": 100000, "kind": "logistic", "test_images": 10000, "seed": 42}))


def test_the_spread_is_mean_std_min_max_of_every_seed(tmp_path):
    params = params_with(tmp_path)
    accs = {1: 0.9911, 2: 0.9942, 3: 0.9903}
    rows_of(tmp_path, accs)
    out = seeds_stage.aggregate(params, "tiny", tmp_path)
    written = json.loads((tmp_path / "reports/tiny/metrics.json").read_text())
    assert written == out and out["n_seeds"] == 3
    a = list(accs.values())
    assert out["accuracy_mean"] == pytest.approx(statistics.fmean(a), abs=1e-5)
    assert out["accuracy_std"] == pytest.approx(statistics.stdev(a), abs=1e-5)
    assert (out["accuracy_min"], out["accuracy_max"]) == (0.9903, 0.9942)
    assert {k: v["accuracy"] for k, v in out["seeds"].items()} == {f"tiny+{s}": v for s, v in accs.items()}
    assert seeds.spread([{"model": "x+1", "accuracy": 0.5}])["accuracy_std"] is None


def test_the_leaderboard_ranks_the_mean_not_a_lucky_seed(tmp_path):
    params = params_with(tmp_path)
    rows_of(tmp_path, {1: 0.9911, 2: 0.9942, 3: 0.9903})
    rows = leaderboard.report_leaderboard(params, tmp_path)
    assert [r["model"] for r in rows] == ["tiny", "logistic"]
    tiny = rows[0]
    assert tiny["accuracy"] == pytest.approx(0.99187, abs=1e-5) and tiny["n_seeds"] == 3
    assert [s["model"] for s in tiny["seeds"]] == ["tiny+1", "tiny+2", "tiny+3"]
    md = (tmp_path / "reports/leaderboard.md").read_text()
    assert "| 1 | tiny (3 seeds: 1, 2, 3) | 99.19% ± 0.21 (99.03%–99.42%) |" in md
    assert "99.42% |" not in md  # the best seed is never a row's figure


def test_the_results_table_gives_a_seeded_entry_its_mean_and_range(tmp_path):
    """docs/results.md (recipes.results): a seeded entry is one row, its mean, never a seed."""
    from recipes import results
    params = params_with(tmp_path)
    rows_of(tmp_path, {1: 0.9911, 2: 0.9942, 3: 0.9903})
    seeds_stage.aggregate(params, "tiny", tmp_path)
    rows = results.rows(params, tmp_path)
    tiny = next(r for r in rows if r["model"] == "tiny")
    assert tiny["accuracy"] == pytest.approx(0.99187, abs=1e-5) and tiny["spread"][0] == 3
    md = results.markdown(rows)
    assert "| tiny | conv4(5x5)-pool-10 | 99.19% ± 0.21 (99.03%–99.42%, 3 seeds) |" in md


def test_the_results_table_names_residual_blocks_and_global_pooling():
    """A residual net's row says its blocks' filters and strides, not "residual" three times."""
    from recipes import config, results
    entry = config.load(ROOT / "params.yaml").models["resnet"]
    assert results.network(entry).startswith(
        "conv32(3x3)-bn-res32(3x3)-res64(3x3/2)-res128(3x3/2)-globalavg-10 ")
