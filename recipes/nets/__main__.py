"""`python -m recipes.nets summary NAME`: the layer table of a net entry of params.yaml,
as nolearn printed it: per layer its output shape, parameters and receptive field."""

from __future__ import annotations

import sys

from recipes import config
from recipes.errors import UserError, run
from recipes.nets.layers import summary_text


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] != "summary":
        raise UserError("usage: python -m recipes.nets summary NAME")
    name = sys.argv[2]
    entry = config.entry(config.load(), name)
    if entry.kind != "net":
        raise UserError(f"models.{name}: a {entry.kind} model has no layers")
    print(summary_text([layer.model_dump() for layer in entry.layers], name), end="")


if __name__ == "__main__":
    run(main)
