"""The agent: the Probe-Analyze-Refine loop, analysis, planners, Optuna search, steering."""
