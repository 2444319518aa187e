"""`kind: committee`: trained models combined (mean or vote), saved as one model folder,
assembled by DVC after its members and again exactly when one of them changes."""

import copy
import inspect
import json
import shutil

import numpy as np
import pytest
import yaml
from sklearn.base import clone
from sklearn.utils import estimator_checks

from conftest import ROOT, assert_one_line_error, run_module
from recipes import config, models
from recipes.committee import CommitteeClassifier
from recipes.errors import UserError

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


class Fixed:
    """A fitted stand-in whose probabilities are given."""
    classes_ = np.arange(10)
    n_params_ = 5

    def __init__(self, proba):
        self.proba = np.asarray(proba, np.float32)

    def predict_proba(self, X):
        return self.proba[: len(X)]


def onehot(digits, weight=0.9):
    p = np.full((len(digits), 10), (1 - weight) / 9)
    p[np.arange(len(digits)), digits] = weight
    return p


X2 = np.zeros((2, 784), np.uint8)


def test_mean_is_the_mean_of_the_probabilities():
    a, b = onehot([3, 1], 0.9), onehot([5, 1], 0.6)
    c = CommitteeClassifier(members=["a", "b"]).fit(estimators={"a": Fixed(a), "b": Fixed(b)})
    assert np.allclose(c.predict_proba(X2), (a + b) / 2, atol=1e-7)
    assert list(c.predict(X2)) == [3, 1] and c.n_params_ == 10


def test_vote_majority_then_mean_breaks_ties():
    # row 0: votes 3, 3, 5 -> 3 although 5's members are surer; row 1: 2 against 2, 7 surer
    members = {"a": onehot([3, 2], 0.5), "b": onehot([3, 2], 0.5), "c": onehot([5, 7], 0.99),
               "d": onehot([5, 7], 0.99)}
    members["d"][0] = onehot([4], 0.99)[0]   # row 0: a fourth member votes 4
    c = CommitteeClassifier(members=list(members), combine="vote").fit(
        estimators={k: Fixed(v) for k, v in members.items()})
    proba = c.predict_proba(X2)
    assert list(c.predict(X2)) == [3, 7]
    assert np.allclose(proba.sum(1), 1, atol=1e-6)
    mean = np.mean(list(members.values()), 0)
    votes = np.array([[0, 0, 0, 2, 1, 1, 0, 0, 0, 0], [0, 0, 2, 0, 0, 0, 0, 2, 0, 0]])
    assert np.allclose(proba, (votes + mean) / 5, atol=1e-6)  # vote fractions, smoothed


def test_signature_is_the_schema_and_the_estimator_contract_holds():
    sig = {k: p.default for k, p in inspect.signature(CommitteeClassifier.__init__).parameters.items()
           if k != "self"}
    assert sig == config.CommitteeParams().model_dump()
    assert models.model_class("committee") is CommitteeClassifier
    est = CommitteeClassifier(members=["a", "b"], combine="vote")
    assert clone(est).get_params() == est.get_params()
    for check in ("check_no_attributes_set_in_init", "check_parameters_default_constructible",
                  "check_get_params_invariance", "check_set_params", "check_estimator_repr",
                  "check_do_not_raise_errors_in_init_or_set_params"):
        getattr(estimator_checks, check)("CommitteeClassifier", CommitteeClassifier())


@pytest.fixture(scope="module")
def trained(slice2000, tmp_path_factory):
    """models/<a, b+1> in a folder of their own: a logistic regression and a tiny net."""
    (X, y), (Xv, yv), _ = slice2000
    root = tmp_path_factory.mktemp("members")
    a = models.create("a", {"kind": "logistic", "max_iter": 50}).fit(X[:1000], y[:1000])
    b = models.create("b", {"kind": "net", "epochs": 1, "optimizer": "adam", "lr": 0.003,
                            "device": "cpu", "threads": 1, "precision": "fp32",
                            "layers": [{"type": "dense", "num_units": 32},
                                       {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]}
                      ).fit(X[:1000], y[:1000], Xv, yv)
    models.save(a, root / "models/a", "a")
    models.save(b, root / "models/b+1", "b+1")
    return root, a, b


@pytest.mark.parametrize("combine", ["mean", "vote"])
def test_saved_and_loaded_from_its_folder_alone(trained, slice2000, tmp_path, monkeypatch, combine):
    root, a, b = trained
    _, _, (Xt, yt) = slice2000
    monkeypatch.chdir(root)   # by default the members are read from models/<name>/
    c = models.create("c", {"kind": "committee", "members": ["a", "b+1"], "combine": combine}).fit()
    proba = c.predict_proba(Xt)
    if combine == "mean":
        assert np.allclose(proba, (a.predict_proba(Xt) + b.predict_proba(Xt)) / 2, atol=1e-6)
    assert (c.predict(Xt) == yt).mean() > 0.7
    models.save(c, tmp_path / "models/c", "c")
    meta = json.loads((tmp_path / "models/c/model.json").read_text())
    assert meta["kind"] == "committee" and meta["params"] == {"members": ["a", "b+1"], "combine": combine}
    shutil.copytree(tmp_path / "models/c", tmp_path / "elsewhere")   # nothing outside is needed
    again = models.load(tmp_path / "elsewhere")
    assert np.array_equal(again.predict_proba(Xt), proba) and again.n_params_ == c.n_params_
    assert np.array_equal(models.load_trained("c", tmp_path / "models").predict(Xt), c.predict(Xt))


def test_a_crafted_model_json_cannot_reach_outside(trained, tmp_path, monkeypatch):
    root, _, _ = trained
    monkeypatch.chdir(root)
    c = CommitteeClassifier(members=["a", "b+1"]).fit()
    models.save(c, tmp_path / "c", "c")
    meta = json.loads((tmp_path / "c/model.json").read_text())
    meta["params"]["members"] = ["../../models/a", "a"]
    (tmp_path / "c/model.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="members: expected plain model names"):
        models.load(tmp_path / "c")


def test_a_missing_member_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"model 'nope': not a trained model"):
        CommitteeClassifier(members=["nope", "a"]).fit()
    with pytest.raises(UserError, match="members: name at least one"):
        CommitteeClassifier().fit()


def write(tmp_path, train, **entries):
    p = copy.deepcopy(PARAMS)
    p["models"].update(entries)
    p["train"] = train
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    return tmp_path / "params.yaml"


COMM = {"kind": "committee", "members": ["logistic", "lenet"], "combine": "mean"}
MISTAKES = [
    ({"models": ["logistic"], "committees": ["comm"]}, {"comm": COMM},
     "models.comm.members: `lenet` is not in train.models (each member is trained by its own train@ stage)"),
    ({"models": ["logistic", "lenet", "comm"]}, {"comm": COMM},
     "train.models: `comm` is a committee: list it in train.committees"),
    ({"models": ["logistic"], "committees": ["logistic"]}, {},
     "train.committees: `logistic` is not a committee (kind: logistic): list it in train.models"),
    ({"models": ["logistic"], "committees": ["com"]}, {"comm": COMM},
     "train.committees: no entry `com` under models (did you mean comm?)"),
    ({"models": ["logistic"]}, {"comm": {**COMM, "members": ["logistic"]}},
     "models.comm.members: list should have at least 2 items"),
    ({"models": ["logistic"]}, {"comm": {**COMM, "combine": "median"}},
     "models.comm.combine: input should be 'mean' or 'vote'"),
    ({"models": ["logistic"]}, {"comm": {**COMM, "member": ["a"]}},
     "models.comm.member: unknown key (did you mean members?)"),
]


@pytest.mark.parametrize("train, entries, line", MISTAKES, ids=[m[2][:40] for m in MISTAKES])
def test_mistakes_are_one_line(tmp_path, train, entries, line):
    with pytest.raises(UserError) as e:
        config.load(write(tmp_path, train, **entries))
    assert line in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_the_members_stage_stops_on_a_member_outside_train_models(tmp_path):
    write(tmp_path, {"models": ["logistic"], "committees": ["comm"]}, comm=COMM)
    assert_one_line_error(run_module("recipes.stages.members", "comm", cwd=tmp_path),
                          "`lenet` is not in train.models")


# ---- the pipeline: a temporary git + DVC repository on a slice of MNIST ------------------

@pytest.mark.slow
def test_pipeline_orders_committees_after_members_and_reassembles_exactly(tmp_path, mnist_dir):
    from test_pipeline import TINY_LAYERS, dvc, metrics, ran, sh, write_params

    repo = tmp_path / "repo"
    repo.mkdir()
    for item in ("recipes", "dvc.yaml", ".gitignore", ".dvcignore"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, repo / item, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy(src, repo / item)
    params = copy.deepcopy(PARAMS)
    params.update(epochs=1, device="cpu")
    params["fetch"]["source"] = str(mnist_dir)
    params["parse"]["limit"] = 2000
    params["split"]["val_size"] = 400
    params["expand"]["copies"] = 0
    params["export"]["onnx"] = []
    params["models"]["logistic"]["max_iter"] = 30
    tiny = {"kind": "net", "optimizer": "adam", "lr": 0.003, "batch_size": 100, "threads": 1,
            "precision": "fp32", "layers": TINY_LAYERS}
    params["models"].update({
        "tiny": {**tiny, "seeds": [1, 2]},
        "tiny_b": tiny,
        "comm": {"kind": "committee", "members": ["tiny+1", "tiny+2"], "combine": "mean",
                 "reference": {"accuracy": 0.9, "source": "two seeds"}},
        "comm2": {"kind": "committee", "members": ["logistic", "tiny_b"], "combine": "vote"}})
    params["train"] = {"models": ["logistic", "tiny+1", "tiny+2", "tiny_b"],
                       "committees": ["comm", "comm2"], "seeds_of": ["tiny"], "verifiers": []}
    params["report"]["compare"] = [["tiny+1", "comm"]]
    write_params(repo, params)
    sh(repo, "git", "init", "-q")
    dvc(repo, "init", "-q")
    dvc(repo, "config", "core.autostage", "true")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "pipeline")

    out = dvc(repo, "repro")
    order = [line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage '")]
    for member in ("train@tiny+1", "train@tiny+2", "evaluate@tiny+1", "evaluate@tiny+2"):
        assert order.index(member) < order.index("members@comm") < order.index("committee@comm")
    assert order.index("committee@comm") < order.index("leaderboard")
    assert order.index("committee@comm") < order.index("compare")

    m = metrics(repo, "comm")
    assert m["kind"] == "committee" and m["test_images"] == 2000
    assert metrics(repo, "comm2")["kind"] == "committee"
    assert (repo / "reports/comm/misclassified.png").exists()
    assert (repo / "reports/compare/tiny+1_vs_comm.png").exists()
    board = json.loads((repo / "reports/leaderboard.json").read_text())
    by_name = {r["model"]: r for r in board["models"]}
    assert set(by_name) == {"logistic", "tiny", "tiny_b", "comm", "comm2"}
    assert by_name["comm"]["reference_accuracy"] == 0.9 and by_name["tiny"]["n_seeds"] == 2
    # the committee's folder: its members copied in, loadable from the folder alone
    meta = json.loads((repo / "models/comm/model.json").read_text())
    assert meta["params"]["members"] == ["tiny+1", "tiny+2"]
    shutil.copytree(repo / "models/comm", tmp_path / "alone")
    X = np.zeros((5, 784), np.uint8)
    X[:, 300:320] = 255
    mean = (models.load(repo / "models/tiny+1").predict_proba(X)
            + models.load(repo / "models/tiny+2").predict_proba(X)) / 2
    assert np.allclose(models.load(tmp_path / "alone").predict_proba(X), mean, atol=1e-6)
    # the seeds' spread is that of their own metrics files; distinct seeds, distinct models
    per = [metrics(repo, f"tiny+{s}")["accuracy"] for s in (1, 2)]
    spread = metrics(repo, "tiny")
    assert spread["n_seeds"] == 2 and spread["accuracy_mean"] == pytest.approx(np.mean(per), abs=1e-5)
    assert spread["accuracy_std"] == pytest.approx(np.std(per, ddof=1), abs=1e-5)
    assert (spread["accuracy_min"], spread["accuracy_max"]) == (min(per), max(per))
    assert (repo / "models/tiny+1/net.pt").read_bytes() != (repo / "models/tiny+2/net.pt").read_bytes()
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "first run")
    assert ran(dvc(repo, "repro")) == set()

    # one member changes: it retrains, and the one committee holding it is reassembled
    params["models"]["tiny_b"]["lr"] = 0.002
    write_params(repo, params)
    stages = ran(dvc(repo, "repro"))
    assert {s for s in stages if s.startswith("train@")} == {"train@tiny_b"}
    assert {s for s in stages if s.startswith("committee@")} == {"committee@comm2"}
    assert "seeds@tiny" not in stages or metrics(repo, "tiny") == spread

    # -S with `+` names, a committee and no compare pairs: an experiment like any other
    out = dvc(repo, "exp", "run", "-S", "train.models=[tiny+1,tiny+2]", "-S", "train.committees=[comm]",
              "-S", "report.compare=[]")
    assert "leaderboard" in ran(out)
    board = json.loads((repo / "reports/leaderboard.json").read_text())
    assert sorted(r["model"] for r in board["models"]) == ["comm", "tiny"]
