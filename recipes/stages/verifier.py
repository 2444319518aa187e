"""Stage verifier: the photo reader's part verifier (recipes.handwriting.verify) or, for an
entry of `kind: pair_reader`, its pair reader (recipes.handwriting.pairs).

    python -m recipes.stages.verifier NAME      # NAME: an entry of params.yaml `verifiers`

A part verifier: writes the parts of `groups` synthetic groups of one to three of the
training split's digits (touching or overlapping, cut where the reader's cut search would
cut them), trains the entry's net on them (its last epoch kept), and reads `held_out` more
groups, never trained on. A pair reader: the same with `groups` examples of two
overlapping digits or one (`pairs.examples`). Writes models/<name>/ (net.pt,
verifier.json) and reports/<name>/metrics.json: the held-out accuracy and, for a verifier,
each class's recall and the confusion (rows: true piece / one digit / several); for a pair
reader, the pairs read right, the single digits read as one, and how often each is
mistaken for the other. Groups are drawn from their own seeds (seed, k), so the parts are
the same whatever the number of worker processes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time

import numpy as np

from recipes import config, paths, tables
from recipes.atomic import atomic_dir, write_text
from recipes.errors import UserError, run
from recipes.gallery import confusion_counts
from recipes.handwriting import pairs, verify
from recipes.stages.train import machine

CHUNK = 250     # groups a worker writes per task
WORKERS = 4     # at most; fewer on a smaller machine
_digits: tuple | None = None


def _init(X: np.ndarray, y: np.ndarray) -> None:
    global _digits
    _digits = (X, y)


def _chunk(task: tuple):
    write, seed, first, count = task
    return write(*_digits, count, seed, first)


def parts(X: np.ndarray, y: np.ndarray, groups: int, seed: int, first: int = 0,
          workers: int | None = None, write=verify.parts) -> tuple[np.ndarray, np.ndarray]:
    """write(X, y, groups, seed, first) (verify.parts, pairs.examples) of groups
    first..first+groups-1, written by worker processes."""
    tasks = [(write, seed, s, min(CHUNK, first + groups - s)) for s in range(first, first + groups, CHUNK)]
    workers = max(1, min(workers or WORKERS, os.cpu_count() or 1, len(tasks)))
    if workers == 1:
        _init(X, y)
        results = [_chunk(t) for t in tasks]
    else:   # groups are independent: processes, results in group order
        with multiprocessing.get_context("fork").Pool(workers, _init, (X, y)) as pool:
            results = list(pool.imap(_chunk, tasks))
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def main() -> None:
    if len(sys.argv) != 2:
        raise UserError("usage: python -m recipes.stages.verifier NAME")
    name = sys.argv[1]
    params = config.load()
    if name not in params.verifiers:
        raise UserError(f"params.yaml: no entry `{name}` under verifiers "
                        f"(known: {', '.join(params.verifiers) or 'none'})")
    cfg = params.verifiers[name]
    pair = cfg.kind == pairs.PairReader.kind
    write = pairs.examples if pair else verify.parts
    X, y = tables.read(paths.TRAIN_SPLIT)
    t0 = time.perf_counter()
    Xp, yp = parts(X, y, cfg.groups, cfg.seed, write=write)
    Xh, yh = parts(X, y, cfg.held_out, cfg.seed, first=cfg.groups, write=write)
    made = time.perf_counter() - t0
    v = (pairs.PairReader if pair else verify.PartVerifier)(
        **cfg.model_dump(exclude={"kind", "groups", "held_out"}))
    t0 = time.perf_counter()
    v.fit(Xp, yp)
    seconds = time.perf_counter() - t0
    found = v.predict(Xh)
    metrics = {**(pair_figures(yh, found) if pair else verifier_figures(yh, found)),
               "train_parts": int(len(yp)), "held_out_parts": int(len(yh)),
               **({} if pair else {"train_counts": np.bincount(yp, minlength=3).tolist()}),
               "parts_seconds": round(made, 2), "train_seconds": round(seconds, 2),
               **v.fit_info_, **machine()}
    with atomic_dir(paths.model_dir(name)) as tmp:
        verify.save(v, tmp, name, metrics)
    write_text(paths.metrics(name), json.dumps(metrics, indent=2) + "\n")
    print(f"verifier: {name}: {len(yp)} parts, {seconds:.1f} s; held out {len(yh)} parts: "
          f"accuracy {metrics['accuracy']:.2%}, recall {metrics['recall']}", file=sys.stderr)


def verifier_figures(truth: np.ndarray, found: np.ndarray) -> dict:
    cm = confusion_counts(truth, found, len(verify.LABELS))
    return {"accuracy": round(float(np.trace(cm) / max(cm.sum(), 1)), 4),
            "recall": {label: round(float(cm[k, k] / max(cm[k].sum(), 1)), 4)
                       for k, label in enumerate(verify.LABELS)},
            "confusion": cm.tolist(), "labels": list(verify.LABELS)}


def pair_figures(truth: np.ndarray, found: np.ndarray) -> dict:
    two, one = truth != pairs.ONE, truth == pairs.ONE

    def share(a):
        return round(float(a.mean()) if a.size else 0.0, 4)
    return {"accuracy": share(found == truth),
            "recall": {"pairs": share(found[two] == truth[two]), "one digit": share(found[one] == pairs.ONE)},
            "pairs_read_as_one": share(found[two] == pairs.ONE),
            "one_read_as_a_pair": share(found[one] != pairs.ONE),
            "held_out_pairs": int(two.sum()), "held_out_single": int(one.sum())}


if __name__ == "__main__":
    run(main)
