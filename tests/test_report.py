"""The report stage on real MNIST digits: two small forests, their predictions and metrics.

Galleries are checked for what they draw (tile count, captions against the predictions
table, the digit in each tile), the leaderboard against the metrics files, and compare on
its invariants. Nothing here needs DVC.
"""

from __future__ import annotations

import json
import re
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import confusion_matrix

from conftest import assert_one_line_error, no_tmp_files, run_in_process, run_module
from recipes import config, gallery, paths, tables
from recipes.errors import UserError
from recipes.predictions import frame as predictions_frame
from recipes.stages import compare, leaderboard, report
from recipes.stages.evaluate import metrics

N_TEST = 2000
CAPTION = re.compile(r"true (\d)  pred (\d)\nprob (\d\.\d{3})  #(\d+)")


def forest_predictions(X, y, X_test, y_test, **kw) -> tuple[pd.DataFrame, dict]:
    est = RandomForestClassifier(random_state=0, n_jobs=1, **kw).fit(X / 255, y)
    proba = est.predict_proba(X_test / 255).astype(np.float32)
    m = metrics(y_test, proba.argmax(1))
    m.update(train_seconds=1.5, predict_images_per_s=12345, n_params=None,
             test_images=len(y_test), kind="random_forest", device="cpu")
    return predictions_frame(y_test, proba), m


@pytest.fixture(scope="module")
def mnist(mnist_train, mnist_test):
    """2,000 test images and the predictions of a weak and a stronger forest on them."""
    X, y = mnist_train[0][:2000], mnist_train[1][:2000]
    X_test, y_test = mnist_test[0][:N_TEST], mnist_test[1][:N_TEST]
    weak = forest_predictions(X, y, X_test, y_test, n_estimators=5, max_depth=6)
    strong = forest_predictions(X, y, X_test, y_test, n_estimators=30)
    return {"X": X_test, "y": y_test, "images": tables.images(X_test),
            "weak": weak, "strong": strong}


def params_for(names, pairs=()):
    return {"train": {"models": list(names)},
            "models": {n: {"kind": "random_forest",
                           "reference": {"accuracy": 0.9 + i / 100, "source": f"paper {i}"}}
                       for i, n in enumerate(names)},
            "report": {"tiles": 120, "compare": [list(p) for p in pairs]}}


@pytest.fixture()
def project(tmp_path, mnist):
    """A directory laid out as the evaluate stage leaves it, for models weak and strong."""
    tables.write(tmp_path / paths.TEST, mnist["X"], mnist["y"])
    for name in ("weak", "strong"):
        pred, m = mnist[name]
        (tmp_path / paths.PREDICTIONS).mkdir(parents=True, exist_ok=True)
        pred.to_parquet(tmp_path / paths.predictions(name), index=False)
        (tmp_path / paths.reports(name)).mkdir(parents=True)
        (tmp_path / paths.metrics(name)).write_text(json.dumps(m))
    return tmp_path


def perfect(pred: pd.DataFrame) -> pd.DataFrame:
    out = pred.copy()
    out["pred"] = out["label"]
    for d in range(10):
        out[f"prob_{d}"] = (out["label"] == d).astype(np.float32)
    return out


def tile_pixels(gray: np.ndarray, tile: gallery.Tile) -> np.ndarray:
    side = gallery.SIDE * gallery.SCALE
    return gray[tile.y:tile.y + side, tile.x:tile.x + side]


def test_mistakes_are_every_wrong_row_most_confident_first(mnist):
    pred, _ = mnist["weak"]
    wrong = report.mistakes(pred)
    assert len(wrong) == int((pred["label"] != pred["pred"]).sum()) > 0
    assert (wrong["label"] != wrong["pred"]).all()
    assert (np.diff(wrong["prob"].to_numpy()) <= 0).all()
    by_index = pred.set_index("index")
    for r in wrong.head(20).itertuples():
        assert by_index.loc[r.index, f"prob_{r.pred}"] == pytest.approx(r.prob)
        assert by_index.loc[r.index, "label"] == r.label


@pytest.mark.parametrize("rows", [300, N_TEST])  # fewer, then more mistakes than tiles
def test_gallery_tiles_and_captions_match_the_predictions(tmp_path, mnist, rows):
    pred = mnist["weak"][0].head(rows)
    errors = int((pred["label"] != pred["pred"]).sum())
    png = tmp_path / "misclassified.png"
    shown, tiles = report.draw_mistakes(png, "weak", pred, mnist["images"])

    assert len(tiles) == len(shown) == min(120, errors)
    by_index = pred.set_index("index")
    side = gallery.SIDE * gallery.SCALE
    gray = np.asarray(Image.open(png).convert("L"), np.float64)
    for tile in tiles:
        label, guess, prob, index = CAPTION.fullmatch(tile.caption).groups()
        row = by_index.loc[int(index)]
        assert (int(label), int(guess)) == (row["label"], row["pred"]) and label != guess
        assert float(prob) == pytest.approx(row[f"prob_{guess}"], abs=5e-4)
        # the tile shows that test digit: dark ink on white (gray_r), upscaled
        digit = gallery.upscale(mnist["images"][[int(index)]])[0].astype(np.float64)
        assert np.abs(tile_pixels(gray, tile) - (255 - digit)).max() <= 2
    assert [int(CAPTION.fullmatch(t.caption).group(4)) for t in tiles] == list(shown["index"])
    assert len({(t.x, t.y) for t in tiles}) == len(tiles)
    assert Image.open(png).size[0] == gallery.GAP + gallery.COLS * (side + gallery.GAP)


def test_no_mistakes_gets_an_empty_gallery_with_a_clear_caption(tmp_path, mnist, monkeypatch):
    from matplotlib.axes import Axes
    texts, draw_text = [], Axes.text

    def spy(ax, x, y, s, *args, **kwargs):
        texts.append(s)
        return draw_text(ax, x, y, s, *args, **kwargs)

    monkeypatch.setattr(Axes, "text", spy)
    png = tmp_path / "misclassified.png"
    shown, tiles = report.draw_mistakes(png, "perfect", perfect(mnist["weak"][0]),
                                        mnist["images"])
    assert len(shown) == 0 and tiles == []
    assert "no misclassified digits" in texts
    assert texts[0].startswith(f"perfect: 0 of {N_TEST:,} test digits misclassified")
    assert Image.open(png).format == "PNG"


def test_confusion_counts_are_the_predictions(tmp_path, mnist):
    pred, m = mnist["weak"]
    counts = report.draw_confusion(tmp_path / "confusion.png", "weak", pred)
    assert (counts == confusion_matrix(pred["label"], pred["pred"], labels=range(10))).all()
    assert np.trace(counts) / counts.sum() == pytest.approx(m["accuracy"], abs=1e-4)
    t, p, c = gallery.top_confusions(counts)[0]
    assert t != p and c == max(counts[i, j] for i in range(10) for j in range(10) if i != j)
    assert Image.open(tmp_path / "confusion.png").format == "PNG"


def test_compare_with_itself_fixes_and_breaks_nothing(mnist):
    pred, _ = mnist["weak"]
    cmp = compare.compare(pred, pred)
    assert len(cmp["fixed"]) == len(cmp["broken"]) == 0
    assert len(cmp["both_wrong"]) == int((pred["label"] != pred["pred"]).sum())


def test_compare_counts_fixed_and_broken(mnist):
    weak, strong = mnist["weak"][0], mnist["strong"][0]
    cmp = compare.compare(weak, strong)
    right_w = weak["label"] == weak["pred"]
    right_s = strong["label"] == strong["pred"]
    assert set(cmp["fixed"]["index"]) == set(weak["index"][~right_w & right_s])
    assert set(cmp["broken"]["index"]) == set(weak["index"][right_w & ~right_s])
    back = compare.compare(strong, weak)
    assert set(back["fixed"]["index"]) == set(cmp["broken"]["index"])
    everything_right = compare.compare(weak, perfect(weak))
    assert len(everything_right["fixed"]) == int((~right_w).sum())
    assert len(everything_right["broken"]) == 0


def test_stage_outputs_match_metrics_and_params(project, mnist):
    params = params_for(["weak", "strong"], pairs=[("weak", "strong")])
    for name in ("weak", "strong"):
        report.report_model(name, 120, project)
    summary = compare.report_compare("weak", "strong", 120, project)
    rows = leaderboard.report_leaderboard(config.validate(params, config.Params), project)

    metrics_files = {n: json.loads((project / "reports" / n / "metrics.json").read_text())
                     for n in ("weak", "strong")}
    assert [r["model"] for r in rows] == sorted(
        metrics_files, key=lambda n: -metrics_files[n]["accuracy"])
    for r in rows:
        m, ref = metrics_files[r["model"]], params["models"][r["model"]]["reference"]
        assert (r["accuracy"], r["error"], r["train_seconds"], r["predict_images_per_s"]) == (
            m["accuracy"], m["error"], m["train_seconds"], m["predict_images_per_s"])
        assert (r["reference_accuracy"], r["reference_source"]) == (ref["accuracy"], ref["source"])
        assert r["vs_reference"] == pytest.approx(m["accuracy"] - ref["accuracy"], abs=1e-4)
    assert json.loads((project / "reports/leaderboard.json").read_text())["models"] == rows

    md = (project / "reports/leaderboard.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(table) == 2
    for line, r in zip(table, rows):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[:4] == [str(r["rank"]), r["model"], f"{r['accuracy']:.2%}",
                             f"{r['error']:.2%}"]
        assert cells[6] == r["reference_source"] and cells[7] == "—"

    cmp = compare.compare(mnist["weak"][0], mnist["strong"][0])
    assert (summary["fixed"], summary["broken"]) == (len(cmp["fixed"]), len(cmp["broken"]))
    assert summary["fixed_index"] == list(cmp["fixed"]["index"])
    assert summary["a_errors"] == round(metrics_files["weak"]["error"] * N_TEST)
    for name in ("weak", "strong"):
        for png in ("misclassified.png", "confusion.png"):
            assert Image.open(project / "reports" / name / png).format == "PNG"
    assert Image.open(project / "reports/compare/weak_vs_strong.png").format == "PNG"
    assert no_tmp_files(project)


def test_bad_input_is_one_user_error(project, mnist):
    with pytest.raises(UserError, match=r"ghost.parquet: no such file"):
        report.report_model("ghost", 120, project)
    short = mnist["strong"][0].head(10)
    with pytest.raises(UserError, match="not on the same test rows"):
        compare.compare(mnist["weak"][0], short, ("weak", "short"))
    (project / "reports/weak/metrics.json").write_text(json.dumps({**mnist["weak"][1],
                                                                   "accuracy": 0.5}))
    with pytest.raises(UserError, match="re-run evaluate@weak"):
        report.report_model("weak", 120, project)


def test_compare_skips_pairs_outside_train_models(capsys):
    params = config.validate(params_for(["weak", "strong"], pairs=[("weak", "nope"), ("weak", "strong")]),
                             config.Params)
    assert compare.pairs_to_draw(params) == [("weak", "strong")]
    assert "report.compare [weak, nope] skipped: nope not in train.models" in capsys.readouterr().err


def test_main_reports_bad_input_in_one_line(project, monkeypatch, capsys):
    (project / "params.yaml").write_text(yaml.safe_dump(params_for(["weak", "strong"])))
    assert_one_line_error(run_module("recipes.stages.report", "bogus", "x", cwd=project), "usage:")
    assert_one_line_error(run_in_process("recipes.stages.report", "ghost", cwd=project,
                                         monkeypatch=monkeypatch, capsys=capsys), "ghost.parquet")
    (project / "params.yaml").write_text(yaml.safe_dump({**params_for(["weak"]), "report": {"tilez": 3}}))
    assert_one_line_error(run_in_process("recipes.stages.leaderboard", cwd=project,
                                         monkeypatch=monkeypatch, capsys=capsys),
                          "report.tilez: unknown key (did you mean tiles?)")
    assert no_tmp_files(project)
