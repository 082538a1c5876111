# Multitask-BERT reproduction workflow: see README.md and workflow/rules/ (one file per stage).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/tokens.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/ensemble.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/reports.smk"
include: "workflow/rules/variations.smk"


rule all:
    input:
        P.table("table1"),
        [P.figure(f) for f in DEFAULT_FIGURES],
