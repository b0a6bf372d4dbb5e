"""`python -m recipelab` runs the CLI."""

from recipelab.cli import main

main()
