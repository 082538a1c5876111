"""The prediction file (pipeline.evaluation.predictions): one per model and split, every task in it; a
malformed file stops the reader with the file, the row and the problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation.predictions import (
    PredictionFileError,
    read_predictions,
    task_predictions,
    task_rows,
    write_predictions,
)


def _model_file(path: Path) -> Path:
    write_predictions(
        [
            task_rows("sst", ["s1", "s2"], np.array([4.0, 0.0])),
            task_rows("para", ["p1", "p2", "p3"], [1, 0, 1]),
            task_rows("sts", ["t1", "t2"], [2.123457, 0.5]),
        ],
        path,
    )
    return path


def test_written_file_holds_every_task_grouped_in_the_models_order(tmp_path: Path) -> None:
    path = _model_file(tmp_path / "dev.csv")
    assert path.read_text().splitlines() == [
        "task,id,prediction",
        "sst,s1,4",  # class indices stay whole numbers beside the similarities
        "sst,s2,0",
        "para,p1,1",
        "para,p2,0",
        "para,p3,1",
        "sts,t1,2.123457",
        "sts,t2,0.5",
    ]
    by_task = read_predictions(path, ["sts", "sst", "para"])  # the set must match; order is the file's
    assert list(by_task) == ["sst", "para", "sts"]
    assert by_task["sst"]["id"].tolist() == ["s1", "s2"] and by_task["sst"]["prediction"].tolist() == [4, 0]
    assert by_task["sts"]["prediction"].tolist() == [2.123457, 0.5]
    assert task_predictions(path, "para")["id"].tolist() == ["p1", "p2", "p3"]


def test_floats_round_trip_exactly(tmp_path: Path) -> None:
    values = np.random.default_rng(0).uniform(0, 5, 500)
    write_predictions([task_rows("sts", [str(i) for i in range(500)], values)], tmp_path / "x.csv")
    assert np.array_equal(read_predictions(tmp_path / "x.csv")["sts"]["prediction"].to_numpy(), values)


def test_task_rows_refuses_fractional_classes() -> None:
    with pytest.raises(ValueError, match="whole numbers"):
        task_rows("sst", ["a"], [1.5])
    with pytest.raises(ValueError, match="2 ids but 1 predictions"):
        task_rows("sts", ["a", "b"], [1.5])


BROKEN = [
    ("task,id,prediction\nsst,a,1\nsst,b,7\n", "row 2 (line 3): prediction '7' is not a class of sst (0..4)"),
    ("task,id,prediction\nsst,a,1\nsst,b,1.5\n", "row 2 (line 3): prediction '1.5' is not a class of sst"),
    ("task,id,prediction\nsts,a,1\nsts,b,\n", "row 2 (line 3): prediction '' is not a finite number"),
    ("task,id,prediction\nsts,a,nan\n", "row 1 (line 2): prediction 'nan' is not a finite number"),
    ("task,id,prediction\nsts,a,high\n", "row 1 (line 2): prediction 'high' is not a finite number"),
    ("task,id,prediction\nsst,a,1\nimdb,b,1\n", "row 2 (line 3): unknown task 'imdb'"),
    ("task,id,prediction\nsst,a,1\nsts,b,1\nsst,c,1\n", "row 3 (line 4): task 'sst' again after other tasks"),
    ("task,id,prediction\nsst,a,1\nsst,a,2\n", "row 2 (line 3): id 'a' of task 'sst' appears twice"),
    ("task,id,prediction\nsst,,1\n", "row 1 (line 2): empty id"),
    ("id,Predicted_Sentiment\na,1\n", "header 'id,Predicted_Sentiment', expected 'task,id,prediction'"),
    ("task,id,prediction\n", "has no rows"),
    ("", "No columns to parse"),
    ("task,id,prediction\nsst,a,1,9\n", "line 2"),
]


@pytest.mark.parametrize(("text", "problem"), BROKEN)
def test_a_malformed_file_names_the_file_row_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "model" / "dev.csv"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(PredictionFileError) as error:
        read_predictions(path)
    message = str(error.value)
    assert message.startswith(f"prediction file {path}") and problem in message, message


def test_the_expected_tasks_are_checked(tmp_path: Path) -> None:
    path = _model_file(tmp_path / "dev.csv")
    with pytest.raises(
        PredictionFileError, match=r"dev\.csv holds tasks .*: no rows of cfimdb; rows of para, "
    ):
        read_predictions(path, ["sst", "sts", "cfimdb"])
    with pytest.raises(PredictionFileError, match=r"dev\.csv has no rows of task 'cfimdb'"):
        task_predictions(path, "cfimdb")


def test_ids_are_read_as_text(tmp_path: Path) -> None:
    """Ids such as 007 or NA are kept as written (the gold files' ids are strings too)."""
    path = tmp_path / "dev.csv"
    write_predictions([task_rows("para", ["007", "NA", "1e3"], [0, 1, 0])], path)
    assert read_predictions(path)["para"]["id"].tolist() == ["007", "NA", "1e3"]
    assert pd.read_csv(path, dtype=str, keep_default_na=False)["id"].tolist() == ["007", "NA", "1e3"]
