"""A network is data: a list of layers in Lasagne's words, built into a torch module.

    layers:
      - {type: conv, num_filters: 20, filter_size: 5, nonlinearity: relu}
      - {type: pool, pool_size: 2}
      - {type: dense, num_units: 100, nonlinearity: sigmoid}
      - {type: dropout, p: 0.5}
      - {type: dense, num_units: 10, nonlinearity: softmax}

The closed set of layer types and their keys is `recipes.config`'s schema; `build` adds what
the schema cannot know: whether each layer fits the shape it receives. The softmax output
is trained with negative log-likelihood (cross-entropy on the logits), so the module returns
the 10 logits. `summary` is the layer table nolearn printed: output shape, parameters and
receptive field per layer.
"""

from __future__ import annotations

import math

from torch import nn

from recipes import config
from recipes.errors import UserError

N_CLASSES = 10
INPUT_SHAPE = (1, 28, 28)
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


class LayerError(UserError):
    pass


class Residual(nn.Module):
    """He et al.'s basic block (see `recipes.config.Residual`): relu(f(x) + skip(x))."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int, bn: bool):
        super().__init__()
        pad = k // 2   # odd k: `same`, so the sum's two sides have the same size

        def norm(c):
            return nn.BatchNorm2d(c) if bn else nn.Identity()

        # a conv followed by batchnorm needs no bias: the batchnorm's shift is one
        self.body = nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, pad, bias=not bn), norm(c_out),
                                  nn.ReLU(), nn.Conv2d(c_out, c_out, k, 1, pad, bias=not bn), norm(c_out))
        self.skip = nn.Identity() if c_in == c_out and stride == 1 else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=not bn), norm(c_out))
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.body(x) + self.skip(x))


def specs(layers, where: str = "NetClassifier") -> list:
    """The layer list validated into the schema's layer objects (one-line LayerError)."""
    if isinstance(layers, list) and layers and all(isinstance(s, config.Strict) for s in layers):
        return layers
    try:
        return config.validate({"layers": layers}, config.LayerList, where).layers
    except UserError as e:
        raise LayerError(str(e)) from None


def _walk(layers, where: str, classes: int = N_CLASSES):
    """Yield (index, spec, input shape, output shape, pad): shapes (C, H, W) or (features,).
    The last layer must be the softmax over `classes` outputs."""
    layers = specs(layers, where)
    if not layers:
        raise LayerError(f"{where}: layers: must be a non-empty list of layers")
    shape, flat_by = INPUT_SHAPE, None
    for i, s in enumerate(layers):
        at = f"{where}: layers[{i}] ({s.type})"
        if s.type in ("conv", "pool", "residual", "global_pool") and len(shape) != 3:
            raise LayerError(f"{at}: a {s.type} layer cannot follow a {flat_by} layer")
        if getattr(s, "nonlinearity", None) == "softmax" and i != len(layers) - 1:
            raise LayerError(f"{at}: softmax is only for the output layer")
        pad = 0
        if s.type == "conv":
            fs = s.filter_size
            pad = {"valid": 0, "same": fs // 2, "full": fs - 1}.get(s.pad, s.pad)
            c, h, w = shape
            out = (s.num_filters, (h + 2 * pad - fs) // s.stride + 1, (w + 2 * pad - fs) // s.stride + 1)
            if out[1] < 1 or out[2] < 1:
                raise LayerError(f"{at}: a {fs}x{fs} filter does not fit the {h}x{w} input")
        elif s.type == "pool":
            c, h, w = shape
            ps, st = s.pool_size, s.stride or s.pool_size
            if ps > h or ps > w:
                raise LayerError(f"{at}: a {ps}x{ps} pool does not fit the {h}x{w} input")
            out = (c, (h - ps) // st + 1, (w - ps) // st + 1)
        elif s.type == "residual":
            c, h, w = shape
            out = (s.num_filters, (h - 1) // s.stride + 1, (w - 1) // s.stride + 1)
        elif s.type == "global_pool":
            out = (shape[0],)
        elif s.type == "dense":
            out = (s.num_units,)
        else:
            out = shape
        yield i, s, shape, out, pad
        if len(out) == 1 and len(shape) == 3:
            flat_by = s.type
        shape = out
    last = layers[-1]
    if last.type != "dense" or last.num_units != classes or last.nonlinearity != "softmax":
        raise LayerError(f"{where}: layers[{len(layers) - 1}]: the output layer must be "
                         f"{{type: dense, num_units: {classes}, nonlinearity: softmax}}")


def build(layers, where: str = "NetClassifier", classes: int = N_CLASSES) -> nn.Sequential:
    """The torch module of a layer list; its output is the logits of `classes` (the 10
    digits; the photo reader's part verifier has its own three)."""
    mods: list[nn.Module] = []
    for i, s, shape, out, pad in list(_walk(layers, where, classes)):
        if s.type == "conv":
            mods.append(nn.Conv2d(shape[0], s.num_filters, s.filter_size, s.stride, pad))
        elif s.type == "pool":
            st = s.stride or s.pool_size
            mods.append(nn.MaxPool2d(s.pool_size, st) if s.mode == "max" else nn.AvgPool2d(s.pool_size, st))
        elif s.type == "dense":
            if len(shape) == 3:
                mods.append(nn.Flatten())
            mods.append(nn.Linear(math.prod(shape), s.num_units))
        elif s.type == "dropout":
            mods.append(nn.Dropout(s.p) if len(shape) == 1 else nn.Dropout2d(s.p))
        elif s.type == "batchnorm":
            mods.append(nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0]))
        elif s.type == "residual":
            mods.append(Residual(shape[0], s.num_filters, s.filter_size, s.stride, s.batchnorm))
        elif s.type == "global_pool":
            pool = nn.AdaptiveAvgPool2d(1) if s.mode == "avg" else nn.AdaptiveMaxPool2d(1)
            mods.append(nn.Sequential(pool, nn.Flatten()))
        if s.type in ("conv", "dense", "batchnorm") and s.nonlinearity in ACTIVATIONS:
            mods.append(ACTIVATIONS[s.nonlinearity]())
    return nn.Sequential(*_pool_before_relu(mods))


def _pool_before_relu(mods: list[nn.Module]) -> list[nn.Module]:
    """A ReLU right before a max-pool moved after it: the same values and, bit for bit, the
    same gradients (the pool's window maximum is the ReLU's where it is positive, and the
    gradient is zero where it is not), with the ReLU and its backward on a quarter of the
    values. Only parameter-free modules move, so the state_dict's keys stay as they were."""
    out = list(mods)
    for k in range(len(out) - 1):
        if isinstance(out[k], nn.ReLU) and isinstance(out[k + 1], nn.MaxPool2d):
            out[k], out[k + 1] = out[k + 1], out[k]
    return out


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def has_conv(module: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in module.modules())


def _params_of(s, shape) -> int:
    if s.type == "conv":
        return s.num_filters * (shape[0] * s.filter_size ** 2 + 1)
    if s.type == "dense":
        return s.num_units * (math.prod(shape) + 1)
    if s.type == "batchnorm":
        return 2 * shape[0]
    if s.type == "residual":
        c, n, k = shape[0], s.num_filters, s.filter_size
        # two k x k convs; with batchnorm a scale and shift per map instead of a bias
        per_map = 2 if s.batchnorm else 1
        total = n * c * k * k + n * n * k * k + 2 * per_map * n
        if c != n or s.stride != 1:  # the 1x1 projection of the skip
            total += n * c + per_map * n
        return total
    return 0


def summary(layers, where: str = "NetClassifier") -> tuple[list[dict], list[str]]:
    """(one row per layer: type, output shape, parameters, receptive field; warnings).

    The receptive field is the side of the input square that one output unit sees (a dense
    layer sees all of it); `jump` is the input pixels between neighbouring units.
    """
    rows, warnings = [], []
    rf, jump, last_spatial = 1, 1, None
    for i, s, shape, out, _pad in _walk(layers, where):
        if s.type in ("conv", "pool"):
            k = s.filter_size if s.type == "conv" else s.pool_size
            stride = s.stride if s.type == "conv" else (s.stride or s.pool_size)
            rf, jump = rf + (k - 1) * jump, jump * stride
            last_spatial = (i, rf)
        elif s.type == "residual":  # its longer path: two convs, the first at the stride
            rf, jump = rf + (s.filter_size - 1) * jump, jump * s.stride
            rf = rf + (s.filter_size - 1) * jump
            last_spatial = (i, rf)
        elif s.type in ("dense", "global_pool"):
            rf = INPUT_SHAPE[1]
        rows.append({"layer": i, "type": s.type, "output": list(out),
                     "params": _params_of(s, shape), "receptive_field": min(rf, INPUT_SHAPE[1])})
    if last_spatial and last_spatial[1] < INPUT_SHAPE[1] // 2:
        i, r = last_spatial
        warnings.append(f"layer {i}: each feature the dense layers get sees only {r}x{r} of the "
                        f"28x28 input; more or larger convolutions or pools would see more of the digit")
    return rows, warnings


def summary_text(layers, title: str = "") -> str:
    rows, warnings = summary(layers)
    lines = [title] if title else []
    lines.append(f"{'#':>3}  {'layer':<10} {'output':<14} {'params':>10}  receptive field")
    for r in rows:
        shape = "x".join(map(str, r["output"]))
        lines.append(f"{r['layer']:>3}  {r['type']:<10} {shape:<14} {r['params']:>10,}  "
                     f"{r['receptive_field']}x{r['receptive_field']}")
    lines.append(f"     total {sum(r['params'] for r in rows):,} parameters")
    lines += [f"warning: {w}" for w in warnings]
    return "\n".join(lines) + "\n"
