"""The agent: the Probe-Analyze-Refine loop and its collaborators.

``loop`` orchestrates only; ``recorder`` runs and records every probe (fingerprints, reuse, submit);
``endgame`` chooses the final recipe by lower confidence bound, writes it and scores it on the test split;
``steering`` folds and applies directives from chat or the CLI; ``optuna_search`` drives threshold searches;
``state.load_state`` is the one view of a run (loop, chat and report); ``analysis`` gives effects with
intervals; ``space`` maps quantile choices to recipes on the pool; ``planners/`` proposes; ``runs`` is what
the CLI asks of runs (latest, ad-hoc probes, export).
"""
