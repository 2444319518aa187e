"""The DVC stages, one module each, named as dvc.yaml names them: `python -m recipes.stages.<stage>`."""
