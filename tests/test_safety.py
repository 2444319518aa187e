"""Reading a model file never runs code, and a damaged one is one line, not a traceback."""

import json
import pickle
import shutil

import pytest
import torch

from conftest import assert_one_line_error, run_module
from recipes import models, paths, tables
from recipes.errors import UserError

NET = {"kind": "net", "epochs": 1, "batch_size": 100, "optimizer": "adam", "lr": 0.003,
       "device": "cpu", "layers": [{"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]}


class Payload:
    """What an attacker's file holds: unpickling it creates the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def trained(slice2000, tmp_path_factory):
    """A project folder with a net and a logistic regression trained, and the test table."""
    (X, y), _, (Xt, yt) = slice2000
    root = tmp_path_factory.mktemp("project")
    for name, entry in (("net", NET), ("lr", {"kind": "logistic", "max_iter": 20})):
        model = models.create(name, entry).fit(X[:500], y[:500])
        models.save(model, root / paths.model_dir(name), name=name)
        (root / paths.model_dir(name) / "train.json").write_text('{"train_seconds": 1}')
    tables.write(root / paths.TEST, Xt, yt)
    return root


@pytest.fixture
def project(trained, tmp_path):
    shutil.copytree(trained, tmp_path, dirs_exist_ok=True)
    return tmp_path


@pytest.mark.slow
def test_a_crafted_net_file_does_not_run(project):
    marker = project / "pwned"
    torch.save({"weights": Payload(marker)}, project / "models/net/net.pt")
    with pytest.raises(UserError, match="cannot be read safely"):
        models.load(project / "models/net")
    proc = run_module("recipes.stages.evaluate", "net", cwd=project)
    assert_one_line_error(proc, "models/net", "re-run `dvc repro`")
    proc = run_module("recipes.predict", project / "x.png", "--model", "net", cwd=project)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert not marker.exists()


def test_a_crafted_skops_file_is_refused(project):
    import skops.io
    marker = project / "pwned"
    skops.io.dump(Payload(marker), project / "models/lr/estimator.skops")
    with pytest.raises(UserError, match="holds types this project never writes"):
        models.load(project / "models/lr")
    assert not marker.exists()


def test_a_crafted_checkpoint_does_not_run(slice2000, tmp_path, capsys):
    (X, y), _, _ = slice2000
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "last.pt"
    with open(ckpt, "wb") as f:
        pickle.dump({"fingerprint": "x", "state": Payload(marker)}, f)
    models.create("n", NET).fit(X[:200], y[:200], checkpoint=ckpt)
    assert not marker.exists()
    assert "not a plain checkpoint" in capsys.readouterr().err


DAMAGE = {
    "net.pt truncated": ("net", "net.pt", lambda b: b[: len(b) // 2]),
    "net.pt empty": ("net", "net.pt", lambda b: b""),
    "net.pt random bytes": ("net", "net.pt", lambda b: bytes(range(256)) * 8),
    "model.json not JSON": ("net", "model.json", lambda b: b"{not json"),
    "model.json without kind": ("net", "model.json", lambda b: b'{"format": 2}'),
    "estimator.skops truncated": ("lr", "estimator.skops", lambda b: b[:100]),
    "an old pickled model": ("lr", "estimator.joblib", lambda b: b"old"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_model_folder_is_one_line(project, case):
    name, file, damage = DAMAGE[case]
    path = project / "models" / name / file
    path.write_bytes(damage(path.read_bytes() if path.exists() else b""))
    with pytest.raises(UserError) as e:
        models.load(project / "models" / name)
    assert "\n" not in str(e.value) and str(project / "models" / name) in str(e.value)


@pytest.mark.slow   # a subprocess evaluating: 4 s
def test_evaluate_without_train_json_is_one_line(project):
    (project / "models/net/train.json").unlink()
    assert_one_line_error(run_module("recipes.stages.evaluate", "net", cwd=project),
                          "train.json: missing", "dvc repro train@net")


@pytest.mark.parametrize("name", ["", "..", "../net", "/etc/passwd", "models/net", "nope"])
def test_a_model_is_named_by_its_plain_name_only(project, name):
    with pytest.raises(UserError, match=r"not a trained model \(trained: lr, net\)"):
        models.load_trained(name, project / "models")
