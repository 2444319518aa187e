"""Stage export: the trained nets of `export.onnx` as ONNX, for use without this project.

    python -m recipes.stages.export

Writes exports/<name>/model.onnx (input `pixels`: uint8 [N, 784], 255 for ink; output
`probabilities`: float32 [N, 10]). The files go beside models/<name>/, not in it: that
folder is train@<name>'s output. A name outside `train.models` is skipped with a notice, so
a run of other models does not have to empty the list.
"""

from __future__ import annotations

import shutil
import sys

from recipes import config, models, paths
from recipes.errors import UserError, run
from recipes.export import to_onnx

EXPORTS = paths.Path("exports")


def main() -> None:
    if len(sys.argv) != 1:
        raise UserError("usage: python -m recipes.stages.export")
    params = config.load()
    shutil.rmtree(EXPORTS, ignore_errors=True)  # the stage rewrites its output completely
    EXPORTS.mkdir()
    for name in params.export.onnx:
        if name not in params.train.models:
            print(f"notice: export.onnx: {name} skipped: not in train.models", file=sys.stderr)
            continue
        out = to_onnx(models.load_trained(name), EXPORTS / name / "model.onnx")
        print(f"export: {name} -> {out}", file=sys.stderr)


if __name__ == "__main__":
    run(main)
