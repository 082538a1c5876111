"""Reporting: the papers' tables (Beyond BERT's score tables, the second study's methods tables), figures
and the claims."""
