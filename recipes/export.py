"""A trained net as an ONNX file that runs without this project (onnxruntime alone).

    python -m recipes.export NAME --onnx [--models-dir models] [--out PATH]

writes `models/NAME/model.onnx` (or PATH). The graph takes what the project's models take
and gives what they give, so a user needs nothing of ours to prepare an input:

    input  `pixels`         uint8 [N, 784]: MNIST rows, 0 = background, 255 = ink
    output `probabilities`  float32 [N, 10]: softmax over the digits 0..9

(the scaling to [0, 1] and the softmax are inside the graph). N is free: one image or many.

    >>> import onnxruntime as ort
    >>> s = ort.InferenceSession("models/lenet/model.onnx")
    >>> s.run(None, {"pixels": X})[0].argmax(1)
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import torch
from torch import nn

from recipes import models, paths
from recipes.atomic import atomic_path
from recipes.errors import UserError, run
from recipes.nets import inference

OPSET = 17
INPUT, OUTPUT = "pixels", "probabilities"


class Probabilities(nn.Module):
    """uint8 MNIST rows [N, 784] -> probabilities [N, 10]: the net with its scaling and softmax.

    A net with `tta` averages over the same one-pixel moves as its `predict_proba`.
    """

    def __init__(self, net: nn.Module, tta: int = 0):
        super().__init__()
        self.net, self.tta = net, tta

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.to(torch.float32).mul(1 / 255).reshape(-1, 1, 28, 28)
        return inference.averaged(self.net, x, self.tta)


def name_of(model) -> str:
    return getattr(model, "name_", None) or getattr(model, "name", "model")


def wrap(model) -> Probabilities:
    net = getattr(model, "net_", None)
    if not isinstance(net, nn.Module):
        raise UserError(f"model {name_of(model)}: a {getattr(model, 'kind', type(model).__name__)} "
                        "model, not a net; ONNX export is for nets (kind: net)")
    return Probabilities(net, getattr(model, "tta", 0)).eval()


def to_onnx(model, out: str | Path) -> Path:
    """Write `model` (a fitted net) as ONNX to `out`, atomically."""
    module = wrap(model)
    out = Path(out)
    with atomic_path(out) as tmp, warnings.catch_warnings():
        # the TorchScript exporter: the torch.export-based one needs onnxscript, which this
        # project does not install; it says it is deprecated on every call
        warnings.simplefilter("ignore", DeprecationWarning)
        # the one-pixel moves of `tta` are slices the exporter leaves unfolded, correctly
        warnings.filterwarnings("ignore", "Constant folding", UserWarning)
        torch.onnx.export(module, (torch.zeros(1, 784, dtype=torch.uint8),), str(tmp),
                          input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: {0: "n"}, OUTPUT: {0: "n"}},
                          opset_version=OPSET, dynamo=False)
        _describe(tmp, name_of(model))
    return out


def _describe(path: Path, name: str) -> None:
    """Say in the file itself what it takes, for whoever opens it without this README."""
    import onnx
    proto = onnx.load(str(path))
    proto.doc_string = (f"mnist-recipes model {name}: input {INPUT} uint8 [N, 784] (MNIST rows, "
                        f"0 = background, 255 = ink); output {OUTPUT} float32 [N, 10]")
    proto.producer_name = "mnist-recipes"
    onnx.save(proto, str(path))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m recipes.export", description=__doc__.split("\n")[0])
    ap.add_argument("name", help="a trained model's name (a folder under --models-dir)")
    ap.add_argument("--onnx", action="store_true", required=True,
                    help="write ONNX (the one format for now)")
    ap.add_argument("--models-dir", default=str(paths.MODELS), help="default: %(default)s")
    ap.add_argument("--out", help="default: MODELS_DIR/NAME/model.onnx")
    args = ap.parse_args(argv)
    model = models.load_trained(args.name, args.models_dir)
    out = to_onnx(model, args.out or Path(args.models_dir) / args.name / "model.onnx")
    print(f"{args.name}: wrote {out}")


def cli() -> None:
    run(main)


if __name__ == "__main__":
    cli()
