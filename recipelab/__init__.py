"""recipelab: autonomous search for the data recipe that makes a model best."""

__version__ = "0.1.0"
