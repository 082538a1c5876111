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
    start_encoder,
    table_inputs,
    zero_shot_inputs,
)
from pipeline.workflow.migrate import migrate_predictions
from pipeline.workflow.paths import Paths
from pipeline.workflow.report import (
    BEYOND_BERT,
    METHODS_PAPER,
    figure_labels,
    paper_figures,
    table_labels,
)
from pipeline.workflow.resources import job_resources
from pipeline.workflow.sources import (
    data_description,
    data_source,
    label_source_spec,
    rebuilt_test_tasks,
    test_labels,
)
from pipeline.workflow.wildcards import global_constraints, name_regex, seeded_regex

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
    MIGRATED = migrate_predictions(config)
    DATA_SOURCE = data_source(config)
    DATA_DESCRIPTION = data_description(config)
    REBUILT_TEST_TASKS = rebuilt_test_tasks(config)
    TEST_LABELS = test_labels(config)
    CLAIMS = catalogue_from_config(config)
    SEEDS = seed_count(config)
    CLAIMS_FILES = claims_files(config, CLAIMS)
except (ClaimError, ValueError) as error:
    raise WorkflowError(str(error)) from None
if MIGRATED:
    print(
        f"converted {len(MIGRATED)} prediction file(s) to one per model and split",
        file=sys.stderr,
    )


wildcard_constraints:
    **global_constraints(config),
