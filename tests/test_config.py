"""params.yaml is validated whole: every mistake is one line naming the key, with a suggestion."""

import copy

import pytest
import yaml

from conftest import ROOT, assert_one_line_error, run_module
from recipes import config
from recipes.errors import UserError

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_the_committed_params_are_valid():
    config.load(ROOT / "params.yaml")


def at(path: str):
    """Setter for a dotted path of params.yaml (list items as [i])."""
    def set_(params, value):
        node, keys = params, path.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        node[keys[-1]] = value
    return set_


MISTAKES = [  # (where, value, the line it must give)
    ("seed", "abc", "seed: input should be a valid integer, got 'abc'"),
    ("split.seed", "abc", "split.seed: input should be a valid integer, got 'abc'"),
    ("parse.limit", True, "parse.limit: input should be a valid integer, got True"),
    ("parse.limt", 6000, "parse.limt: unknown key (did you mean limit?)"),
    ("epoch", 3, "epoch: unknown key (did you mean epochs?)"),
    ("fetch.mirrors", ["ftp:/nowhere"], "fetch.mirrors[0]: must be a URL"),
    ("models.lenet.momentum", "high", "models.lenet.momentum: input should be a valid number, got 'high'"),
    ("models.lenet.weight_decay", -1, "models.lenet.weight_decay: input should be greater than or equal to 0"),
    ("models.lenet.learning_rate", 0.1, "models.lenet.learning_rate: unknown key (did you mean lr?)"),
    ("models.lenet.epoch", 3, "models.lenet.epoch: unknown key (did you mean epochs?)"),
    ("models.lenet.kind", "svm", "models.lenet.kind: unknown kind 'svm' (known: logistic, random_forest, net, committee)"),
    ("models.dbn.pretrain.epoch", 3, "models.dbn.pretrain.epoch: unknown key (did you mean epochs?)"),
    ("models.cnn_elastic.augment.elastic.sigmaa", 3, "models.cnn_elastic.augment.elastic.sigmaa: unknown key (did you mean sigma?)"),
    ("models.lenet.layers.0.num_filter", 3, "models.lenet.layers[0].num_filter: unknown key (did you mean num_filters?)"),
    ("models.lenet.layers.1.type", "poool", "models.lenet.layers[1].type: unknown layer type 'poool'"),
    ("models.lenet.device", "gpu", "models.lenet.device: must be auto, cpu, cuda or cuda:N, got 'gpu'"),
    ("expand.transforms", ["elastc"], "expand.transforms[0]: input should be 'elastic', 'affine' or 'shift'"),
    ("report.tilez", 3, "report.tilez: unknown key (did you mean tiles?)"),
    ("train.models", ["lenet", "lenett"], "train.models: no entry `lenett` under models (did you mean lenet?)"),
]


@pytest.mark.parametrize("where, value, line", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_every_mistake_is_one_line_naming_the_key(tmp_path, where, value, line):
    params = copy.deepcopy(PARAMS)
    at(where)(params, value)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(UserError) as e:
        config.load(tmp_path / "params.yaml")
    message = str(e.value)
    assert message.startswith(f"{tmp_path / 'params.yaml'}: ") and line in message, message
    assert "\n" not in message


def test_a_stage_stops_before_any_work(tmp_path):
    params = copy.deepcopy(PARAMS)
    params["models"]["lenet"]["learning_rate"] = 0.1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert_one_line_error(run_module("recipes.stages.fetch", cwd=tmp_path),
                          "models.lenet.learning_rate: unknown key (did you mean lr?)")
    assert not (tmp_path / "data").exists()
