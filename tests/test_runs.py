"""The runs table: every run side by side, settings that differ, best epoch, scores and costs."""

import json

import pandas as pd
import pytest

from pipeline.reporting.runs import flatten, read_runs, runs_frame, write_runs


def run(name, lr, seed, best=2, rank=8):
    settings = {
        "tasks": ["sst"],
        "lr": lr,
        "seed": seed,
        "lora": {"rank": rank, "alpha": 16},
        "name": name,
        "scale_name": "smoke",
        "upweight": {},
    }
    return {
        "settings": settings,
        "best_epoch": best,
        "best_dev_overall": 0.4 + lr,
        "train_seconds": 1.234,
        "wall_seconds": 9.5,
        "peak_memory_bytes": 2 * 1024**3,
        "peak_memory_kind": "cpu_peak_rss",
        "device": "cpu",
        "hardware": "CPU",
        "precision": "fp32",
        "attempts": 1,
        "trainable_parameters": 10,
        "total_parameters": 20,
        "code_hash": "abc",
    }


def history(best_score):
    return pd.DataFrame(
        {
            "epoch": [1, 2],
            "train_loss": [1.0, 0.5],
            "sst_acc": [0.3, best_score],
            "overall": [0.3, best_score],
            "train_sst_acc": [0.4, 0.6],
            "epoch_seconds": [1, 1],
        }
    )


def test_flatten_nested_settings():
    assert flatten({"lora": {"rank": 8}, "tasks": ["sst", "para"], "upweight": {}}) == {
        "lora.rank": 8,
        "tasks": "sst+para",
        "upweight": "",
    }


def test_only_differing_settings_become_columns():
    frame = runs_frame(
        {
            "a": (run("a", 0.1, 0), history(0.5)),
            "a~seed1": (run("a~seed1", 0.1, 1), history(0.55)),
            "b": (run("b", 0.2, 0, rank=4), history(0.6)),
        }
    )
    assert list(frame.columns[:4]) == ["run", "lr", "seed", "lora.rank"]
    assert "tasks" not in frame.columns and "name" not in frame.columns
    assert frame["dev_sst_acc"].tolist() == [0.5, 0.55, 0.6]
    assert frame["peak_memory_gib"].tolist() == [2.0, 2.0, 2.0]
    assert frame["best_epoch"].tolist() == [2, 2, 2]


def test_a_best_epoch_missing_from_the_history_is_named():
    with pytest.raises(ValueError, match="run a: history.csv has no row for its best epoch 3"):
        runs_frame({"a": (run("a", 0.1, 0, best=3), history(0.5))})


def test_read_and_write(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps(run("a", 0.1, 0)))
    history(0.5).to_csv(tmp_path / "history.csv", index=False)
    runs = read_runs({"a": (tmp_path / "run.json", tmp_path / "history.csv")})
    frame = runs_frame(runs)
    write_runs(frame, tmp_path / "runs.csv", tmp_path / "runs.md", "Runs at smoke scale")
    assert pd.read_csv(tmp_path / "runs.csv")["run"].tolist() == ["a"]
    assert (tmp_path / "runs.md").read_text().startswith("# Runs at smoke scale\n\n| run |")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json: no 'settings'"):
        read_runs({"a": (tmp_path / "bad.json", tmp_path / "history.csv")})
