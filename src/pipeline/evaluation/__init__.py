"""Evaluation: predictions, metrics, ensembles, and the random and zero-shot baselines."""
