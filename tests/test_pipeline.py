"""End to end: the real pipeline on a slice of MNIST in a temporary git + DVC repository."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.slow
TIMING = {"train_seconds", "predict_images_per_s"}
TINY_LAYERS = [{"type": "conv", "num_filters": 4, "filter_size": 5},
               {"type": "pool", "pool_size": 2},
               {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]


def sh(repo: Path, *cmd: str, ok: bool = True) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "DVC_NO_ANALYTICS": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(list(cmd), cwd=repo, env=env, capture_output=True, text=True)
    if ok:
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def dvc(repo: Path, *args: str) -> str:
    return sh(repo, sys.executable, "-m", "dvc", *args)


def ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def metrics(repo: Path, name: str) -> dict:
    return json.loads((repo / "reports" / name / "metrics.json").read_text())


def write_params(repo: Path, params: dict) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def repo(tmp_path_factory, mnist_dir):
    repo = tmp_path_factory.mktemp("pipeline")
    for item in ("recipes", "dvc.yaml", "params.yaml", ".gitignore", ".dvcignore"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, repo / item, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy(src, repo / item)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["fetch"]["source"] = str(mnist_dir)
    params["parse"]["limit"] = 3000
    params["split"]["val_size"] = 500
    params["expand"]["copies"] = 1
    params["epochs"] = 1
    params["device"] = "cpu"
    tiny = {"kind": "net", "optimizer": "adam", "lr": 0.003, "batch_size": 100,
            "layers": TINY_LAYERS, "reference": {"accuracy": 0.9, "source": "a tiny net"}}
    params["models"]["tiny"] = tiny
    # pins its own seed and epochs, and trains on the expanded table
    params["models"]["tiny_x"] = {**tiny, "data": "expanded", "seed": 3, "epochs": 1, "threads": 1}
    params["train"]["models"] = ["logistic", "tiny", "tiny_x"]
    params["report"]["compare"] = [["logistic", "tiny"], ["lenet", "tiny"]]
    params["models"]["logistic"]["max_iter"] = 50
    params["export"]["onnx"] = ["tiny", "network3_2conv"]
    write_params(repo, params)
    sh(repo, "git", "init", "-q")
    dvc(repo, "init", "-q")
    dvc(repo, "config", "core.autostage", "true")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "pipeline")
    return repo


def test_repro_then_nothing_to_do(repo):
    out = dvc(repo, "repro")
    assert {"fetch", "parse", "split", "expand", "resolve", "train@logistic", "train@tiny",
            "train@tiny_x", "evaluate@tiny", "report@tiny", "compare", "leaderboard"} <= ran(out)
    assert "is empty" not in out  # no empty persistent output for DVC to warn about
    # a pair naming a model outside train.models is skipped with a notice, not an error
    assert "report.compare [lenet, tiny] skipped: lenet not in train.models" in out
    for name in ("logistic", "tiny"):
        m = metrics(repo, name)
        assert m["test_images"] == 3000 and set(m["per_digit"]) == {str(d) for d in range(10)}
        assert m["seed"] == 42 and m["versions"]["scikit-learn"] and m["cpu"]
    tiny = metrics(repo, "tiny")
    assert tiny["epochs"] == 1 and tiny["threads"] == 0 and tiny["cpu_capability"]
    assert (repo / "reports/tiny/live/plots/metrics/val_acc.tsv").exists()
    assert (repo / "models/tiny/summary.txt").read_text().count("receptive field") == 1
    board = json.loads((repo / "reports/leaderboard.json").read_text())
    assert sorted(r["model"] for r in board["models"]) == ["logistic", "tiny", "tiny_x"]
    assert [r["reference_accuracy"] for r in board["models"] if r["model"] == "tiny"] == [0.9]
    assert (repo / "reports/compare/logistic_vs_tiny.png").exists()
    assert [p["b"] for p in json.loads((repo / "reports/compare.json").read_text())["pairs"]] == ["tiny"]
    assert (repo / "exports/tiny/model.onnx").exists()
    assert "export.onnx: network3_2conv skipped: not in train.models" in out
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "first run")

    assert ran(dvc(repo, "repro")) == set()
    shown = dvc(repo, "metrics", "show")
    assert "reports/tiny/metrics.json" in shown and "accuracy" in shown
    plots = dvc(repo, "plots", "show", "--json")
    assert "confusion.csv" in plots and "misclassified.png" in plots


CHANGES = [  # (what the user changes, the train stages that must run)
    ("threads=4", lambda p: p.update(threads=4), {"train@tiny"}),  # tiny pins no threads
    ("expand.copies=2", lambda p: p["expand"].update(copies=2), {"train@tiny_x"}),
    ("epochs=2", lambda p: p.update(epochs=2), {"train@tiny"}),
    ("seed=1", lambda p: p.update(seed=1), {"train@logistic", "train@tiny"}),
    ("a reference", lambda p: p["models"]["tiny"]["reference"].update(source="another"), set()),
    ("report.tiles=60", lambda p: p["report"].update(tiles=60), set()),
]


@pytest.mark.parametrize("what, change, retrained", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_change_retrains_exactly_what_it_affects(repo, what, change, retrained):
    before = yaml.safe_load((repo / "params.yaml").read_text())
    params = yaml.safe_load((repo / "params.yaml").read_text())
    change(params)
    write_params(repo, params)
    try:
        stages = ran(dvc(repo, "repro"))
    finally:
        write_params(repo, before)
        dvc(repo, "repro")  # back to the committed state (DVC's run cache restores outputs)
    assert {s for s in stages if s.startswith("train@")} == retrained, stages
    if what == "a reference":
        assert stages == {"resolve", "leaderboard"}
    if what == "report.tiles=60":
        assert stages == {"report@logistic", "report@tiny", "report@tiny_x", "compare"}
    if what == "a reference":  # nothing downstream of the models either
        assert "export" not in stages


def test_same_params_same_metrics(repo):
    before = {n: metrics(repo, n) for n in ("logistic", "tiny")}
    # the two trainings and their evaluations run again (not the whole pipeline: every
    # other stage only reads what these write)
    out = dvc(repo, "repro", "--force", "--single-item", "train@logistic", "train@tiny",
              "evaluate@logistic", "evaluate@tiny")
    assert ran(out) == {"train@logistic", "train@tiny", "evaluate@logistic", "evaluate@tiny"}
    for n, m in before.items():
        after = metrics(repo, n)
        assert {k: v for k, v in after.items() if k not in TIMING} == \
               {k: v for k, v in m.items() if k not in TIMING}


def test_experiments(repo):
    before = metrics(repo, "tiny")["accuracy"]
    out = dvc(repo, "exp", "run", "-S", "epochs=3")
    assert "train@tiny" in ran(out) and "train@tiny_x" not in ran(out)
    assert metrics(repo, "tiny")["epochs"] == 3
    diff = json.loads(dvc(repo, "metrics", "diff", "--json"))
    assert "reports/tiny/metrics.json" in diff
    assert metrics(repo, "tiny")["accuracy"] != before

    out = dvc(repo, "exp", "run", "-S", "split.seed=1", "-S", "epochs=1")
    assert "split" in ran(out)
    diff = json.loads(dvc(repo, "metrics", "diff", "--json"))
    assert diff["reports/logistic/metrics.json"]["accuracy"]["diff"] != 0


def test_other_models_alone(repo):
    # the compare pairs name models this run leaves out: they are skipped, not an error
    out = dvc(repo, "exp", "run", "-S", "train.models=[tiny]")
    assert "leaderboard" in ran(out)
    board = json.loads((repo / "reports/leaderboard.json").read_text())
    assert [r["model"] for r in board["models"]] == ["tiny"]


def test_queued_sweep(repo):
    # the README's sweep: two learning rates queued, run by a worker, compared
    dvc(repo, "exp", "run", "--queue", "-S", "models.tiny.lr=0.001,0.01")
    dvc(repo, "queue", "start", "-j", "1")
    deadline = time.time() + 300
    while time.time() < deadline:
        status = dvc(repo, "queue", "status")
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    assert status.count("Success") >= 2, status
    shown = json.loads(dvc(repo, "exp", "show", "--json", "--sort-by", "accuracy"))
    lrs = set()
    for commit in shown:
        for exp in commit.get("experiments") or []:
            for run in exp.get("revs", []):
                data = run.get("data") or {}
                p = data.get("params", {}).get("params.yaml", {}).get("data", {})
                acc = data.get("metrics", {}).get("reports/tiny/metrics.json", {}).get("data", {})
                if "accuracy" in acc:
                    lrs.add(p["models"]["tiny"]["lr"])
    assert {0.001, 0.01} <= lrs
    dvc(repo, "queue", "stop")
