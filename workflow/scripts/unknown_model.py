"""Rule unknown_model: never runs (its input function stops the DAG with the closest known names)."""

raise SystemExit(f"no model named {snakemake.wildcards.unknown!r}")  # noqa: F821
