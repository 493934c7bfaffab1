"""sweepnn: which training techniques make this network train well?

Load a YAML recipe (`sweepnn.recipe.load`), run its Optuna sweep over the compact trainer
(`sweepnn.runner.run`), read the ranked results (`sweepnn.results`). The command line is `sweepnn`.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
