"""`python -m recipes.predict`: the handwriting reader's command (see recipes.handwriting.read)."""

from recipes.handwriting.read import cli

if __name__ == "__main__":
    cli()
