"""Stage report: pictures and tables of what the evaluated models get right and wrong.

    python -m recipes.report model NAME    # one model of train.models
    python -m recipes.report compare A B   # one pair of report.compare
    python -m recipes.report leaderboard   # every model of train.models, best first
    python -m recipes.report               # all of the above, for the current params.yaml

Inputs are the evaluate stage's outputs: data/predictions/<name>.parquet (index, label, pred,
prob_0..prob_9), reports/<name>/metrics.json, and the test images data/tables/test.parquet.

`model NAME` writes reports/<name>/misclassified.png (the test digits it got wrong, most
confident mistakes first, up to `report.tiles`), reports/<name>/confusion.png, and
data/leaderboard/<name>.json, its leaderboard row (metrics plus the reference figure of
`models.<name>.reference`). `leaderboard` ranks those rows into reports/leaderboard.md and
reports/leaderboard.json. `compare A B` writes reports/compare_<A>_vs_<B>.png and .json: the
test digits that B fixes (A wrong, B right) and those it breaks (A right, B wrong).

The rows go through data/leaderboard/ so that the one leaderboard stage can depend on every
model's row as a single directory: DVC cannot list a dependency per entry of a params list.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from recipes import gallery, tables
from recipes import params as P
from recipes.atomic import write_text
from recipes.errors import UserError, run

N_CLASSES = 10
PROBS = [f"prob_{d}" for d in range(N_CLASSES)]
PRED_COLUMNS = ["index", "label", "pred", *PROBS]
TILES = 120  # default of report.tiles

PREDICTIONS = Path("data/predictions")
ROWS = Path("data/leaderboard")
REPORTS = Path("reports")
TEST = Path("data/tables/test.parquet")


# ---------------------------------------------------------------- pure functions

def confidence(pred: pd.DataFrame) -> np.ndarray:
    """The probability each row's model gave to its own prediction."""
    probs = pred[PROBS].to_numpy()
    return probs[np.arange(len(pred)), pred["pred"].to_numpy().astype(np.intp)]


def mistakes(pred: pd.DataFrame) -> pd.DataFrame:
    """Rows predicted wrong as (index, label, pred, prob), most confident mistake first."""
    wrong = pred[pred["label"] != pred["pred"]]
    out = pd.DataFrame({"index": wrong["index"].to_numpy(np.int64),
                        "label": wrong["label"].to_numpy(np.int64),
                        "pred": wrong["pred"].to_numpy(np.int64),
                        "prob": confidence(wrong)})
    return out.sort_values(["prob", "index"], ascending=[False, True],
                           kind="stable").reset_index(drop=True)


def compare(pred_a: pd.DataFrame, pred_b: pd.DataFrame,
            names: tuple[str, str] = ("a", "b")) -> dict[str, pd.DataFrame]:
    """What b fixes (a wrong, b right) and breaks (a right, b wrong), on the same test rows.

    Each frame has index, label, pred_a, prob_a, pred_b, prob_b; `fixed` is ordered by how
    sure a was of its mistake, `broken` by how sure b is of its own, most sure first.
    """
    a, b = names
    if len(pred_a) != len(pred_b) or not (
            np.array_equal(pred_a["index"].to_numpy(), pred_b["index"].to_numpy())
            and np.array_equal(pred_a["label"].to_numpy(), pred_b["label"].to_numpy())):
        raise UserError(f"predictions of `{a}` and `{b}` are not on the same test rows "
                        f"({len(pred_a)} and {len(pred_b)} rows): re-run evaluate for both")
    both = pd.DataFrame({"index": pred_a["index"].to_numpy(np.int64),
                         "label": pred_a["label"].to_numpy(np.int64),
                         "pred_a": pred_a["pred"].to_numpy(np.int64), "prob_a": confidence(pred_a),
                         "pred_b": pred_b["pred"].to_numpy(np.int64), "prob_b": confidence(pred_b)})
    right_a = both["pred_a"] == both["label"]
    right_b = both["pred_b"] == both["label"]

    def ordered(rows: pd.DataFrame, by: str) -> pd.DataFrame:
        return rows.sort_values([by, "index"], ascending=[False, True],
                                kind="stable").reset_index(drop=True)

    return {"fixed": ordered(both[~right_a & right_b], "prob_a"),
            "broken": ordered(both[right_a & ~right_b], "prob_b"),
            "both_wrong": ordered(both[~right_a & ~right_b], "prob_b")}


def compare_summary(a: str, b: str, cmp: dict[str, pd.DataFrame], n: int) -> dict:
    fixed, broken, both = cmp["fixed"], cmp["broken"], cmp["both_wrong"]
    return {"a": a, "b": b, "test_images": n,
            "a_errors": len(fixed) + len(both), "b_errors": len(broken) + len(both),
            "fixed": len(fixed), "broken": len(broken), "net_fixed": len(fixed) - len(broken),
            "both_wrong": len(both),
            "fixed_index": [int(i) for i in fixed["index"]],
            "broken_index": [int(i) for i in broken["index"]]}


def reference_of(params: dict, name: str) -> tuple[float | None, str | None]:
    """(accuracy, source) of `models.<name>.reference`, or (None, None) where there is none."""
    ref = P.model_entry(params, name).get("reference")
    if ref is None:
        return None, None
    acc = ref.get("accuracy") if isinstance(ref, dict) else None
    if not isinstance(acc, (int, float)) or isinstance(acc, bool) or not 0 <= acc <= 1:
        raise UserError(f"models.{name}.reference: expected {{accuracy: 0..1, source: text}}, "
                        f"got {ref!r}")
    return float(acc), ref.get("source")


METRIC_KEYS = ("accuracy", "error", "n_params", "train_seconds", "predict_images_per_s")


def leaderboard_row(name: str, metrics: dict, params: dict) -> dict:
    """One model's row: its test metrics next to the reference figure it reproduces."""
    missing = [k for k in METRIC_KEYS if k not in metrics]
    if missing:
        raise UserError(f"metrics of `{name}`: missing {', '.join(missing)} (re-run evaluate)")
    ref_acc, ref_source = reference_of(params, name)
    return {
        "model": name,
        "kind": metrics.get("kind"),
        "accuracy": metrics["accuracy"],
        "error": metrics["error"],
        "reference_accuracy": ref_acc,
        "reference_source": ref_source,
        "vs_reference": None if ref_acc is None else round(metrics["accuracy"] - ref_acc, 4),
        "n_params": metrics["n_params"],
        "train_seconds": metrics["train_seconds"],
        "predict_images_per_s": metrics["predict_images_per_s"],
        "device": metrics.get("device"),
        "test_images": metrics.get("test_images"),
    }


def rank(rows: list[dict]) -> list[dict]:
    """Best test accuracy first (ties by name), each row given its `rank` from 1."""
    ordered = sorted(rows, key=lambda r: (-r["accuracy"], r["model"]))
    return [{"rank": i, **r} for i, r in enumerate(ordered, 1)]


def leaderboard_rows(metrics_by_name: dict[str, dict], params: dict) -> list[dict]:
    return rank([leaderboard_row(n, m, params) for n, m in metrics_by_name.items()])


def leaderboard_markdown(rows: list[dict]) -> str:
    """The leaderboard as a GitHub markdown table, ready to paste into the README."""
    def pct(x):
        return "—" if x is None else f"{x:.2%}"

    def num(x, fmt):
        return "—" if x is None else format(x, fmt)

    lines = ["| # | model | test accuracy | error | reference | vs reference | reference source "
             "| parameters | training s | images/s |",
             "|---:|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        vs = "—" if r["vs_reference"] is None else f"{100 * r['vs_reference']:+.2f} pp"
        source = (r["reference_source"] or "—").replace("|", "\\|")
        lines.append(f"| {r['rank']} | {r['model']} | {pct(r['accuracy'])} | {pct(r['error'])} "
                     f"| {pct(r['reference_accuracy'])} | {vs} | {source} "
                     f"| {num(r['n_params'], ',')} | {num(r['train_seconds'], ',.1f')} "
                     f"| {num(r['predict_images_per_s'], ',')} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- params and inputs

def model_names(params: dict) -> list[str]:
    names = (params.get("train") or {}).get("models")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise UserError("params.yaml: train.models must be a non-empty list of model names")
    return names


def report_params(params: dict) -> tuple[int, list[tuple[str, str]]]:
    """(`report.tiles`, `report.compare` as (a, b) pairs), each name checked against train.models."""
    cfg = params.get("report") or {}
    if not isinstance(cfg, dict):
        raise UserError("params.yaml: `report` must be a mapping (tiles, compare)")
    tiles = cfg.get("tiles", TILES)
    if not isinstance(tiles, int) or isinstance(tiles, bool) or tiles < 1:
        raise UserError(f"report.tiles: must be a whole number >= 1, got {tiles!r}")
    pairs = cfg.get("compare") or []
    if not isinstance(pairs, list):
        raise UserError(f"report.compare: must be a list of [a, b] pairs, got {pairs!r}")
    out = []
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise UserError(f"report.compare: each entry must be a pair [a, b] of model names, "
                            f"got {pair!r}")
        check_trained(params, *pair, where="report.compare")
        out.append((pair[0], pair[1]))
    return tiles, out


def check_trained(params: dict, *names: str, where: str) -> None:
    trained = model_names(params)
    for name in names:
        if name not in trained:
            raise UserError(f"{where}: `{name}` is not in train.models ({', '.join(trained)}), "
                            f"so it has no predictions")


def read_predictions(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file (run `dvc repro evaluate@{path.stem}`)") from None
    except Exception as e:  # pyarrow raises several kinds for a broken file
        raise UserError(f"{path}: not a readable Parquet table ({type(e).__name__})") from None
    missing = [c for c in PRED_COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"{path}: missing columns {', '.join(missing[:4])}")
    for col in ("label", "pred"):
        if len(df) and not df[col].between(0, N_CLASSES - 1).all():
            raise UserError(f"{path}: `{col}` must hold digits 0..9")
    return df


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


def checked_images(pred: pd.DataFrame, X: np.ndarray, y: np.ndarray, path: Path) -> np.ndarray:
    """The test images uint8 [N, 28, 28], once the prediction rows' labels match them."""
    index = pred["index"].to_numpy(np.int64)
    in_range = len(index) == 0 or (index.min() >= 0 and index.max() < len(y))
    if not in_range or not np.array_equal(y[index], pred["label"].to_numpy()):
        raise UserError(f"{path}: its rows do not match the labels of {TEST} "
                        f"(re-run evaluate after parse)")
    return tables.images(X)


# ---------------------------------------------------------------- pictures

def mistake_section(wrong: pd.DataFrame, images: np.ndarray, tiles: int,
                    empty: str = "no misclassified digits") -> gallery.Section:
    shown = wrong.head(tiles)
    captions = [f"true {r.label}  pred {r.pred}\nprob {r.prob:.3f}  #{r.index}"
                for r in shown.itertuples()]
    heading = (f"all {len(wrong):,} mistakes" if len(shown) == len(wrong)
               else f"the {len(shown)} most confident of {len(wrong):,} mistakes")
    return gallery.Section(heading + ", most confident first" if len(wrong) else "mistakes",
                           images[shown["index"].to_numpy()], captions, empty=empty)


def draw_mistakes(path: Path, name: str, pred: pd.DataFrame, images: np.ndarray,
                  tiles: int = TILES) -> tuple[pd.DataFrame, list[gallery.Tile]]:
    """reports/<name>/misclassified.png; returns (the mistakes shown, the tiles drawn)."""
    wrong = mistakes(pred)
    n = len(pred)
    title = [f"{name}: {len(wrong):,} of {n:,} test digits misclassified "
             f"({len(wrong) / max(n, 1):.2%})",
             "caption: true and predicted digit; prob = the probability the model gave its "
             "(wrong) prediction;",
             f"#N = row of the test set (column `index` of data/predictions/{name}.parquet)"]
    drawn = gallery.draw_gallery(path, title, [mistake_section(wrong, images, tiles)])
    return wrong.head(tiles), drawn


def draw_confusion(path: Path, name: str, pred: pd.DataFrame) -> np.ndarray:
    counts = gallery.confusion_counts(pred["label"], pred["pred"])
    n = int(counts.sum())
    top = gallery.top_confusions(counts)
    title = [f"{name}: confusion matrix on {n:,} test digits "
             f"(accuracy {np.trace(counts) / max(n, 1):.2%})",
             "rows: true digit, columns: predicted digit; mistakes shaded red by count",
             "most common mistakes (true→predicted): "
             + (",  ".join(f"{t}→{p} ×{c}" for t, p, c in top[:4]) if top else "none")]
    return gallery.draw_confusion(path, counts, title)


def draw_compare(path: Path, a: str, b: str, cmp: dict[str, pd.DataFrame],
                 images: np.ndarray, n: int, tiles: int = TILES) -> list[gallery.Tile]:
    """Two grids: the digits b fixes and those it breaks, each with both predictions."""
    per = max(1, tiles // 2)

    def section(rows: pd.DataFrame, what: str, color: str) -> gallery.Section:
        shown = rows.head(per)
        caps = [f"#{r.index}  true {r.label}\na: {r.pred_a} ({r.prob_a:.2f})\n"
                f"b: {r.pred_b} ({r.prob_b:.2f})" for r in shown.itertuples()]
        count = f"{len(rows):,}" if len(shown) == len(rows) else f"{len(shown)} of {len(rows):,}"
        return gallery.Section(f"{what} ({count})", images[shown["index"].to_numpy()], caps,
                               colors=[color] * len(caps), empty="none")

    fixed, broken, both = cmp["fixed"], cmp["broken"], cmp["both_wrong"]
    title = [f"a = {a}, b = {b}: what b changes on {n:,} test digits",
             f"b fixes {len(fixed):,} and breaks {len(broken):,} (net {len(fixed) - len(broken):+,}); "
             f"both wrong on {len(both):,}",
             "caption: #row of the test set, true digit; each model's prediction "
             "(and the probability it gave it)"]
    sections = [section(fixed, f"fixed: {a} wrong, {b} right — most confident {a} mistakes first",
                        "#1b5e20"),
                section(broken, f"broken: {a} right, {b} wrong — most confident {b} mistakes first",
                        "#b71c1c")]
    return gallery.draw_gallery(path, title, sections)


# ---------------------------------------------------------------- stage commands

def report_model(name: str, params: dict, root: Path = Path(".")) -> dict:
    """Pictures and leaderboard row of one model; returns the row."""
    check_trained(params, name, where="report model")
    tiles, _ = report_params(params)
    pred_path = root / PREDICTIONS / f"{name}.parquet"
    pred = read_predictions(pred_path)
    metrics = read_json(root / REPORTS / name / "metrics.json")
    acc = float((pred["label"] == pred["pred"]).mean()) if len(pred) else 0.0
    if abs(metrics.get("accuracy", acc) - acc) > 1e-4:
        raise UserError(f"{root / REPORTS / name / 'metrics.json'}: accuracy {metrics['accuracy']} "
                        f"but {pred_path} gives {acc:.4f} (re-run evaluate@{name})")
    X, y = tables.read(root / TEST)
    images = checked_images(pred, X, y, pred_path)
    draw_mistakes(root / REPORTS / name / "misclassified.png", name, pred, images, tiles)
    draw_confusion(root / REPORTS / name / "confusion.png", name, pred)
    row = leaderboard_row(name, metrics, params)
    write_text(root / ROWS / f"{name}.json", json.dumps(row, indent=2) + "\n")
    return row


def report_compare(a: str, b: str, params: dict, root: Path = Path(".")) -> dict:
    check_trained(params, a, b, where="report compare")
    tiles, _ = report_params(params)
    pa, pb = root / PREDICTIONS / f"{a}.parquet", root / PREDICTIONS / f"{b}.parquet"
    pred_a, pred_b = read_predictions(pa), read_predictions(pb)
    cmp = compare(pred_a, pred_b, (a, b))
    X, y = tables.read(root / TEST)
    images = checked_images(pred_a, X, y, pa)
    out = root / REPORTS / f"compare_{a}_vs_{b}"
    draw_compare(out.with_suffix(".png"), a, b, cmp, images, len(pred_a), tiles)
    summary = compare_summary(a, b, cmp, len(pred_a))
    write_text(out.with_suffix(".json"), json.dumps(summary, indent=2) + "\n")
    return summary


def report_leaderboard(params: dict, root: Path = Path(".")) -> list[dict]:
    names = model_names(params)
    rows = []
    for name in names:
        path = root / ROWS / f"{name}.json"
        if not path.exists():
            raise UserError(f"{path}: no such file (run `python -m recipes.report model {name}`)")
        rows.append(read_json(path))
    rows = rank(rows)
    n = rows[0].get("test_images")
    count = f"{n:,} " if isinstance(n, int) else ""
    text = ("# Leaderboard\n\n"
            f"Test accuracy of every model in `train.models` on the {count}MNIST test digits, "
            "best first, next to the published figure each entry reproduces "
            "(`models.<name>.reference` in params.yaml). Training seconds and images/s depend "
            "on the machine (see `device` in reports/<name>/metrics.json).\n\n"
            + leaderboard_markdown(rows))
    write_text(root / REPORTS / "leaderboard.md", text)
    write_text(root / REPORTS / "leaderboard.json", json.dumps({"models": rows}, indent=2) + "\n")
    return rows


def report_all(params: dict, root: Path = Path(".")) -> list[dict]:
    _, pairs = report_params(params)
    for name in model_names(params):
        report_model(name, params, root)
    for a, b in pairs:
        report_compare(a, b, params, root)
    return report_leaderboard(params, root)


USAGE = ("usage: python -m recipes.report [model NAME | compare A B | leaderboard]  "
         "(no arguments: all of them)")


def main() -> None:
    args = sys.argv[1:]
    params = P.load()
    if not args:
        rows = report_all(params)
        print(f"report: {len(rows)} models, best {rows[0]['model']} "
              f"{rows[0]['accuracy']:.2%}", file=sys.stderr)
    elif args[0] == "model" and len(args) == 2:
        row = report_model(args[1], params)
        print(f"report: {args[1]} {row['accuracy']:.2%}", file=sys.stderr)
    elif args[0] == "compare" and len(args) == 3:
        s = report_compare(args[1], args[2], params)
        print(f"report: {args[2]} fixes {s['fixed']} and breaks {s['broken']} of {args[1]}'s",
              file=sys.stderr)
    elif args == ["leaderboard"]:
        rows = report_leaderboard(params)
        print(f"report: leaderboard of {len(rows)} models", file=sys.stderr)
    else:
        raise UserError(USAGE)


if __name__ == "__main__":
    run(main)
