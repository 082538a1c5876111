"""pipeline.workflow.paths and .wildcards: every file where a researcher's finished runs expect it, and
wildcards that match exactly the declared names."""

from __future__ import annotations

import re

import pytest
from workflow_config import workflow_config

from pipeline.workflow.paths import Paths
from pipeline.workflow.wildcards import global_constraints, name_regex, seeded_regex

P = Paths("paper")

# The layout finished runs and checkpoints were written in: a change here strands a researcher's results.
KEPT = [
    (P.data("sst", "dev"), "results/paper/data/sst-dev.csv"),
    (P.test_provenance("sts"), "results/paper/data/sts-test.provenance.json"),
    (P.label_source("sst_dev.txt"), "results/downloads/label-sources/sst_dev.txt"),
    (P.encoder("bert-base-uncased"), "results/paper/encoders/bert-base-uncased"),
    (P.tokens("bert-base-uncased", "para", "train"), "results/paper/tokens/bert-base-uncased/para-train.pt"),
    (P.pretrained("mnrl1"), "results/paper/pretrained/mnrl1"),
    (P.model_dir("x"), "results/paper/models/x"),
    (P.history("x"), "results/paper/models/x/history.csv"),
    (P.run("x~seed1"), "results/paper/models/x~seed1/run.json"),
    (P.checkpoints("x"), "results/paper/checkpoints/x"),
    (P.pretrain_checkpoints("mnrl1"), "results/paper/checkpoints/pretrain-mnrl1"),
    (P.metrics("x", "dev"), "results/paper/metrics/x/dev.json"),
    (P.log("finetune", "x"), "logs/paper/finetune/x.log"),
    (P.log("tokens", "e/sst-dev"), "logs/paper/tokens/e/sst-dev.log"),
    (P.benchmark("finetune", "x"), "results/paper/benchmarks/finetune/x.tsv"),
    (P.table("table1"), "results/tables/table1.csv"),
    (P.table("table1", "md"), "results/tables/table1.md"),
    (P.figure("figure2"), "results/figures/figure2.png"),
    (P.claims("md"), "results/claims.md"),
    (P.ensemble_members("3-ensemble", "dev"), "results/paper/predictions/3-ensemble/members-dev.json"),
    (P.zero_shot_fit(), "results/paper/predictions/zero-shot/fitted.json"),
    # new: one prediction file per model and split, every task in it
    (P.predictions("x", "test"), "results/paper/predictions/x/test.csv"),
    # new: the model in the ecosystem's format, its card the declared output (old folders are converted)
    (P.model_card("x"), "results/paper/models/x/README.md"),
]


@pytest.mark.parametrize(("path", "expected"), KEPT, ids=[e for _, e in KEPT])
def test_paths_keep_the_layout_of_finished_runs(path, expected):
    assert path == expected


def test_defaults_are_the_wildcards_and_the_scale_comes_from_the_config():
    assert Paths("smoke").data() == "results/smoke/data/{task}-{split}.csv"
    assert (
        Paths("smoke").predictions("{experiment}", "dev") == "results/smoke/predictions/{experiment}/dev.csv"
    )
    assert Paths("smoke").tokens() == "results/smoke/tokens/{encoder}/{task}-{split}.pt"
    assert Paths.of(workflow_config("quick")).results == "results/quick"


def test_name_regex_matches_exactly_the_names():
    pattern = re.compile(f"^(?:{name_regex(['a.b', 'a', 'x-1e-05'])})$")
    assert all(pattern.match(n) for n in ("a.b", "a", "x-1e-05"))
    assert not any(pattern.match(n) for n in ("axb", "a.bc", "x-1e-0", ""))
    assert not re.match(f"^(?:{name_regex([])})$", "")  # no names: matches nothing


def test_seeded_regex_takes_seeds_from_one_on():
    pattern = re.compile(f"^{seeded_regex(['m'])}$")
    assert pattern.match("m") and pattern.match("m~seed1") and pattern.match("m~seed12")
    assert not pattern.match("m~seed0") and not pattern.match("m~seed") and not pattern.match("n~seed1")


def test_global_constraints_name_every_declared_model():
    constraints = global_constraints(workflow_config())
    model = re.compile(f"^(?:{constraints['model']})$")
    for name in ("multi", "pair~seed2", "random", "zero-shot", "sts-first"):
        assert model.match(name), name
    assert not model.match("nope")
    assert re.fullmatch(constraints["task"], "cfimdb") and not re.fullmatch(constraints["task"], "imdb")
    assert re.fullmatch(constraints["split"], "test") and not re.fullmatch(constraints["split"], "tests")
