"""Tests of pipeline.reporting.tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.reporting.tables import build_table, table_markdown, write_table

METRICS = {
    "multi": {
        "scores": {"sst_acc": 0.51234, "para_acc": 0.8, "sts_corr": 0.4},
        "overall": 0.5 / 3 + 0.75 / 3 + 1.4 / 6,
        "unlabelled": [],
    },
    "sst_only": {"scores": {"sst_acc": 0.4567}, "overall": 0.4567, "unlabelled": []},
    "test_split": {
        "scores": {"sst_acc": 0.5, "para_acc": None, "sts_corr": 0.3},
        "overall": None,
        "unlabelled": ["para"],
    },
}
ROWS = [
    {"label": "Multitask BERT", "model": "multi", "paper": {"sst_acc": 0.52, "overall": 0.7}},
    {"label": "SST only", "model": "sst_only", "paper": {}},
    {"label": "Test split", "model": "test_split"},
]


def test_build_table_cells() -> None:
    df = build_table(ROWS, METRICS, scale="quick")
    assert list(df.columns) == [
        "row",
        "model",
        "sst_acc",
        "sst_acc_paper",
        "para_acc",
        "para_acc_paper",
        "sts_corr",
        "sts_corr_paper",
        "overall",
        "overall_paper",
        "scale",
    ]
    first = df.iloc[0]
    assert first["sst_acc"] == 0.512 and first["sst_acc_paper"] == 0.52
    assert first["overall"] == round(0.5 / 3 + 0.75 / 3 + 1.4 / 6, 3) and first["para_acc_paper"] == ""
    second = df.iloc[1]
    # the paper's overall needs sst, para and sts: a single-task row shows its score, not an overall
    assert second["sst_acc"] == 0.457 and second["para_acc"] == "n/a" and second["overall"] == "n/a"
    third = df.iloc[2]
    assert third["para_acc"] == "unlabelled" and third["overall"] == "unlabelled" and third["sst_acc"] == 0.5
    assert (df["scale"] == "quick").all()


def test_build_table_overall_na_and_columns() -> None:
    metrics = {"x": {"scores": {"sst_acc": 0.5}, "overall": None, "unlabelled": []}}
    df = build_table([{"label": "X", "model": "x"}], metrics, columns=("sst_acc", "overall"), scale="full")
    assert df.iloc[0]["overall"] == "n/a"
    expected = ["row", "model", "sst_acc", "sst_acc_paper", "overall", "overall_paper", "scale"]
    assert list(df.columns) == expected


def test_build_table_unknown_model() -> None:
    with pytest.raises(KeyError, match="nope") as err:
        build_table([{"label": "Y", "model": "nope"}], METRICS, scale="quick")
    assert "multi" in str(err.value)


def test_markdown_and_write(tmp_path: Path) -> None:
    df = build_table(ROWS, METRICS, scale="quick")
    md = table_markdown(df, "Table 1: dev results")
    lines = md.strip().splitlines()
    assert lines[0] == "Table 1: dev results"
    assert len(lines) == 2 + 2 + len(ROWS)
    for row in ROWS:
        assert row["label"] in md
    assert "| 0.512 |" in md and "unlabelled" in md
    write_table(df, "Table 1: dev results", tmp_path / "t.csv", tmp_path / "t.md")
    assert (tmp_path / "t.md").read_text() == md
    back = pd.read_csv(tmp_path / "t.csv")
    assert back["row"].tolist() == [r["label"] for r in ROWS]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.md"]


def test_rows_with_several_seeds_show_mean_and_spread() -> None:
    second = {"scores": {"sst_acc": 0.6, "para_acc": 0.7, "sts_corr": 0.2}, "overall": 0.55, "unlabelled": []}
    df = build_table(ROWS, METRICS, scale="quick", seed_metrics={"multi": [METRICS["multi"], second]})
    multi, sst_only, test_split = (df.iloc[i] for i in range(3))
    assert multi["sst_acc"] == pytest.approx((0.51234 + 0.6) / 2, abs=1e-3)
    assert multi["sst_acc_sd"] == pytest.approx(abs(0.6 - 0.51234) / 2**0.5, abs=1e-3)
    assert multi["seeds"] == 2 and sst_only["seeds"] == 1 and sst_only["sst_acc_sd"] == ""
    assert sst_only["para_acc"] == "n/a" and test_split["overall"] == "unlabelled"
    assert list(df.columns[2:5]) == ["sst_acc", "sst_acc_sd", "sst_acc_paper"] and df.columns[-2] == "seeds"


def test_rows_whose_run_did_not_learn_are_marked():
    from pipeline.reporting.tables import build_table

    learned = {"scores": {"sst_acc": 0.5}, "overall": None, "learned": {"sst": True}}
    constant = {"scores": {"sst_acc": 0.26}, "overall": None, "learned": {"sst": False}}
    rows = [{"label": "a", "model": "a"}, {"label": "b", "model": "b"}]
    frame = build_table(rows, {"a": learned, "b": constant}, columns=("sst_acc",), scale="quick")
    assert frame["not_learned"].tolist() == ["", "sst"]
    assert list(frame.columns).index("not_learned") == list(frame.columns).index("scale") - 1
    # every run learned (or metrics without the flags): no column
    frame = build_table(rows[:1], {"a": learned}, columns=("sst_acc",), scale="quick")
    assert "not_learned" not in frame.columns
