"""mnist-recipes: a reproducible DVC pipeline from the raw MNIST IDX files to evaluated models."""

__version__ = "0.1.0"
