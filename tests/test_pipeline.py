"""End to end: the real pipeline on a slice of MNIST in a temporary git + DVC repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

TIMING = {"train_seconds", "predict_images_per_s"}


def sh(repo: Path, *cmd: str) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "DVC_NO_ANALYTICS": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(list(cmd), cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def dvc(repo: Path, *args: str) -> str:
    return sh(repo, sys.executable, "-m", "dvc", *args)


def metrics(repo: Path, name: str) -> dict:
    return json.loads((repo / "reports" / name / "metrics.json").read_text())


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
    params["epochs"] = 1
    params["device"] = "cpu"
    params["models"]["tiny"] = {
        "kind": "net", "optimizer": "adam", "lr": 0.003, "batch_size": 100,
        "layers": [{"type": "conv", "num_filters": 4, "filter_size": 5},
                   {"type": "pool", "pool_size": 2},
                   {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]}
    params["train"]["models"] = ["logistic", "tiny"]
    params["report"]["compare"] = [["logistic", "tiny"]]
    params["models"]["logistic"]["max_iter"] = 50
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(repo, "git", "init", "-q")
    dvc(repo, "init", "-q")
    dvc(repo, "config", "core.autostage", "true")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "pipeline")
    return repo


def test_repro_then_nothing_to_do(repo):
    out = dvc(repo, "repro")
    for stage in ("fetch", "parse", "split", "train@logistic", "train@tiny", "evaluate@tiny",
                  "report@tiny", "compare@0", "leaderboard"):
        assert f"Running stage '{stage}'" in out
    for name in ("logistic", "tiny"):
        m = metrics(repo, name)
        assert 0.7 < m["accuracy"] <= 1 and m["test_images"] == 3000
        assert set(m["per_digit"]) == {str(d) for d in range(10)}
    assert metrics(repo, "tiny")["epochs"] == 1
    assert (repo / "reports/tiny/live/plots/metrics/val_acc.tsv").exists()
    assert "prob_9" in (repo / "data/predictions/tiny.parquet").read_bytes().decode("latin1")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "first run")

    again = dvc(repo, "repro")
    assert "Running stage" not in again

    shown = dvc(repo, "metrics", "show")
    assert "reports/tiny/metrics.json" in shown and "accuracy" in shown
    plots = dvc(repo, "plots", "show", "--json")
    assert "confusion.csv" in plots and "misclassified.png" in plots
    board = json.loads((repo / "reports/leaderboard.json").read_text())
    assert sorted(r["model"] for r in board["models"]) == ["logistic", "tiny"]
    assert (repo / "reports/compare_logistic_vs_tiny.png").exists()


def test_same_params_same_metrics(repo):
    before = {n: metrics(repo, n) for n in ("logistic", "tiny")}
    dvc(repo, "repro", "--force")
    for n, m in before.items():
        after = metrics(repo, n)
        assert {k: v for k, v in after.items() if k not in TIMING} == \
               {k: v for k, v in m.items() if k not in TIMING}


def test_experiments(repo):
    before = metrics(repo, "tiny")["accuracy"]
    out = dvc(repo, "exp", "run", "-S", "epochs=3")
    assert "Running stage 'train@tiny'" in out
    assert metrics(repo, "tiny")["epochs"] == 3
    diff = dvc(repo, "metrics", "diff", "--json")
    assert "reports/tiny/metrics.json" in json.loads(diff)
    assert metrics(repo, "tiny")["accuracy"] != before

    out = dvc(repo, "exp", "run", "-S", "split.seed=1", "-S", "epochs=1")
    assert "Running stage 'split'" in out
    diff = json.loads(dvc(repo, "metrics", "diff", "--json"))
    assert diff["reports/logistic/metrics.json"]["accuracy"]["diff"] != 0
    shown = dvc(repo, "exp", "show", "--json")
    assert "split.seed" in shown or '"seed": 1' in shown


def test_experiment_with_other_models(repo):
    # the README's command for training other configurations: report.compare's pairs name
    # models such a run leaves out, so the command empties it
    out = dvc(repo, "exp", "run", "-S", "train.models=[tiny]", "-S", "report.compare=[]")
    assert "Running stage 'leaderboard'" in out
    board = json.loads((repo / "reports/leaderboard.json").read_text())
    assert [r["model"] for r in board["models"]] == ["tiny"]
