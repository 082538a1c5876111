# Shared set-up: config validation, then the names every rule file uses. The logic lives in
# src/pipeline/workflow/ (paths, sources, inputs, resources, report, wildcards), unit-tested without
# Snakemake; this file only wires it.
import sys

from snakemake.exceptions import WorkflowError

from pipeline.workflow.validation import prepare_config
from pipeline.config import (
    ConfigError,
    RANDOM_BASELINE_SEED,
    ensemble_members,
    known_models,
    model_settings,
    model_tasks,
    resolve_experiment,
    resolve_pretrain,
    seed_count,
    zero_shot_settings,
)
from pipeline.reporting.claims import ClaimError, catalogue_from_config
from pipeline.workflow.inputs import (
    claims_files,
    claims_inputs,
    encoder_files,
    encoder_info,
    ensemble_inputs,
    ensemble_select_top,
    figure_inputs,
    finetune_inputs,
    label_records,
    label_source_inputs,
    methods_table_files,
    methods_table_inputs,
    metrics_inputs,
    predict_inputs,
    prefetch_inputs,
    pretrain_inputs,
    random_baseline_inputs,
    run_files,
    run_targets,
    start_encoder,
    table_inputs,
    zero_shot_inputs,
)
from pipeline.workflow.migrate import (
    changed_converted_models,
    migrate_models,
    migrate_predictions,
)
from pipeline.workflow.paths import Paths
from pipeline.workflow.report import (
    BEYOND_BERT,
    METHODS_PAPER,
    figure_labels,
    paper_figures,
    table_labels,
)
from pipeline.workflow.costs import config_digest
from pipeline.workflow.resources import job_resources, planned_costs
from pipeline.workflow.sources import (
    data_description,
    data_source,
    data_version,
    label_source_spec,
    rebuilt_test_tasks,
    test_labels,
)
from pipeline.workflow.wildcards import (
    global_constraints,
    name_regex,
    seeded_regex,
    unknown_model,
    unknown_regex,
)

try:
    prepare_config(config, workflow.basedir)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

ENV = "../../environment.yml"
SCALE_NAME = config["scale"]
SCALE = config["scales"][SCALE_NAME]
# torch threads of each training/prediction job (SLURM: --cpus-per-task); 1 on a small machine lets two jobs
# run side by side, which beats one job on two threads there (docs/workflow.md, "Speed")
JOB_THREADS = SCALE.get("threads", 2)
# Every path (pipeline/workflow/paths.py), under the active scale's folder results/{scale}/: a run at one
# scale never touches another's.
P = Paths.of(config)
ENCODER = SCALE["encoder"]
HUB_ENCODERS = [e for e, spec in config["encoders"].items() if spec["kind"] == "hub"]
RANDOM_ENCODERS = [
    e for e, spec in config["encoders"].items() if spec["kind"] == "random"
]
EXPERIMENTS = list(config["experiments"])
ENSEMBLES = list(config["ensembles"])
DEFAULT_FIGURES = paper_figures(config, BEYOND_BERT)
METHODS_FIGURES = paper_figures(config, METHODS_PAPER)

# Resolved once while the DAG is built; a problem stops the run with one line naming it.
try:
    # prediction files of the layout before one file per model and split, converted (else every finished
    # experiment would be trained again: its dev prediction file is a fine-tuning output)
    # a dry run writes nothing: it says what a real run will convert
    DRY_RUN = bool(getattr(workflow.output_settings, "dryrun", False))
    MIGRATED = migrate_predictions(config, dry_run=DRY_RUN)
    # trained models of the format before the model card (one model.safetensors) converted to the ecosystem's
    # (the card is a fine-tuning output); not in a dry run, nor inside a job
    MODELS_TO_CONVERT = (
        []
        if workflow.remote_exec or workflow.subprocess_exec
        else migrate_models(
            config,
            workflow.basedir,
            dry_run=DRY_RUN,
            log=lambda line: print(line, file=sys.stderr),
        )
    )
    # converted models whose settings changed since: Snakemake has no record of their fine-tuning job, so
    # rules/finetune.smk gives it an input newer than its card (pipeline/workflow/migrate.py)
    CHANGED_CONVERTED = changed_converted_models(config)
    DATA_SOURCE = data_source(config)
    DATA_DESCRIPTION = data_description(config)
    REBUILT_TEST_TASKS = rebuilt_test_tasks(config)
    TEST_LABELS = test_labels(config)
    CLAIMS = catalogue_from_config(config)
    SEEDS = seed_count(config)
    CLAIMS_FILES = claims_files(config, CLAIMS)
    DATA_VERSION = data_version(config)
    # per-job runtimes from the cost plan where the scale asks for them (paper: runtime: plan)
    COSTS = planned_costs(config, DATA_VERSION)
except (ClaimError, ValueError) as error:
    raise WorkflowError(str(error)) from None
if MIGRATED and DRY_RUN:
    print(
        f"dry run: {len(MIGRATED)} prediction file(s) of the old layout will be converted to one per model "
        "and split when this runs; the finetune jobs listed for them will then not run",
        file=sys.stderr,
    )
elif MIGRATED:
    print(
        f"converted {len(MIGRATED)} prediction file(s) to one per model and split",
        file=sys.stderr,
    )
if MODELS_TO_CONVERT and DRY_RUN:
    print(
        f"{len(MODELS_TO_CONVERT)} trained model(s) are in the format before the model card "
        "(model.safetensors): the next run that is not a dry run converts them first, in seconds each, "
        "without training; this dry run lists their finetune jobs, which that run will not run: "
        + ", ".join(MODELS_TO_CONVERT),
        file=sys.stderr,
    )
elif MODELS_TO_CONVERT:
    print(
        f"converted {len(MODELS_TO_CONVERT)} trained model(s) to the ecosystem's format (encoder or "
        "adapter, heads, model card); their model.safetensors stay (delete them at will)",
        file=sys.stderr,
    )


wildcard_constraints:
    **global_constraints(config),
