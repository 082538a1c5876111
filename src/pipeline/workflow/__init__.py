"""What the Snakemake rule files need, as plain functions with unit tests (the top floor)."""
