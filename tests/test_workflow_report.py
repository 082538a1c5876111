"""pipeline.workflow.report: the figures each study draws and the report labels of tables and figures."""

from __future__ import annotations

import os

from workflow_config import workflow_config

from pipeline.workflow.report import (
    BEYOND_BERT,
    METHODS_PAPER,
    figure_labels,
    paper_figures,
    shown_scale,
    table_labels,
)


def test_each_study_draws_its_own_figures():
    config = workflow_config()
    assert paper_figures(config, BEYOND_BERT) == ["curves", "confusion"]
    assert paper_figures(config, METHODS_PAPER) == ["other"]


def test_shown_scale_reads_the_built_tables_own_scale_column(tmp_path):
    path = tmp_path / "t.csv"
    assert shown_scale(path, "paper") == "paper"  # not built yet: the active scale
    path.write_text("row,scale\na,smoke\nb,quick\nc,smoke\n")
    assert shown_scale(path, "paper") == "quick, smoke"
    path.write_text("row\na\n")
    assert shown_scale(path, "paper") == "paper"


def test_labels_name_the_papers_number_and_the_scale(tmp_path, monkeypatch):
    config = workflow_config("quick")
    monkeypatch.chdir(tmp_path)  # no results/tables/ here: the active scale
    assert table_labels(config, "t-test") == {"table": "Table 9", "scale": "quick"}
    assert table_labels(config, "m-scores") == {"table": "m-scores", "scale": "quick"}  # no number
    os.makedirs("results/tables")
    (tmp_path / "results/tables/t-dev.csv").write_text("row,scale\na,smoke\n")
    assert table_labels(config, "t-dev")["scale"] == "smoke"
    assert figure_labels(config, "curves") == {"figure": "Figure 7", "scale": "quick"}
    assert figure_labels(config, "confusion") == {"figure": "confusion", "scale": "quick"}
