"""pipeline.workflow.sources: the data source of each scale, data versions, partial mirrors, captions and
which test splits are rebuilt from public releases; on small mirror folders made here."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_config import workflow_config

from pipeline.config import ConfigError
from pipeline.data.labels import SOURCE_FILES
from pipeline.workflow.sources import (
    data_description,
    data_source,
    flag,
    label_source_names,
    label_source_spec,
    mirror_problems,
    rebuilt_test_tasks,
)

HEADER_2023 = b"\tid\tsentence1\tsentence2\tis_duplicate\n"
HEADER_2024 = b"id\tsentence1\tsentence2\tis_duplicate\n"


def mirror(folder: Path, quora_header: bytes = HEADER_2023, files=(), label_sources=()) -> Path:
    """A (partial) mirror: quora-dev.csv with the given header, empty official files, label sources."""
    (folder / "label-sources").mkdir(parents=True)
    (folder / "quora-dev.csv").write_bytes(quora_header)
    for name in files:
        (folder / name).write_text("")
    for name in label_sources:
        (folder / "label-sources" / name).write_text("")
    return folder


def test_flag_reads_booleans_and_command_line_strings():
    assert flag({"x": True}, "x") and flag({"x": "true"}, "x") and flag({"x": "True"}, "x")
    assert not flag({}, "x") and not flag({"x": "false"}, "x") and not flag({"x": False}, "x")


def test_smoke_data_is_generated():
    config = workflow_config("smoke")
    data = config["scales"]["smoke"]["data"]
    assert data_source(config) == {"kind": "generated", "seed": data["seed"], "sizes": data["sizes"]}
    assert data_description(config) == "generated (smoke)"
    assert rebuilt_test_tasks(config) == []  # generated data carries its own test labels


def test_quick_downloads_the_papers_data_version():
    config = workflow_config("quick")
    source = data_source(config)
    assert source["kind"] == "download" and source["cache"] == "results/downloads"
    assert source["data_version"] == "2024" and source["quora_holdout"] is False
    assert source["subsets"] == config["scales"]["quick"]["data"]["subsets"]
    text = data_description(config)
    assert text.startswith("official CS224N files, downloaded; CS224N data version 2024 (the papers')")
    assert text.endswith(config["scales"]["quick"]["note"])
    assert rebuilt_test_tasks(config) == list(SOURCE_FILES)
    assert "para" not in rebuilt_test_tasks(workflow_config("quick", quora_holdout="true"))
    assert rebuilt_test_tasks(workflow_config("quick", test_labels={"rebuild": False, "sources": {}})) == []


def test_a_mirror_is_read_at_its_detected_version_and_a_partial_one_said_so(tmp_path):
    folder = mirror(tmp_path / "m", HEADER_2023)
    config = workflow_config("quick", data_mirror=str(folder))
    source = data_source(config)
    assert source["kind"] == "mirror" and source["path"] == str(folder.resolve())
    assert "data_version" not in source  # auto: detected from the mirror's quora-dev.csv
    problems = mirror_problems(config)
    assert problems["quora-train.csv"] == "missing" and problems["quora-dev.csv"].startswith("git blob ")
    text = data_description(config)
    assert f"local mirror {folder}; CS224N data version 2023; PARTIAL data: " in text
    assert "(the papers')" not in text
    assert mirror_problems(workflow_config("smoke", data_mirror=str(folder))) == {}  # generated data


def test_a_partial_mirror_stops_a_paper_scale_run_unless_allowed(tmp_path):
    folder = mirror(tmp_path / "m", HEADER_2024)
    with pytest.raises(
        ConfigError, match=r"differ from the pinned data version 2024.*allow_partial_data=true"
    ):
        data_source(workflow_config("paper", data_mirror=str(folder)))
    config = workflow_config("paper", data_mirror=str(folder), allow_partial_data="true")
    assert data_source(config)["kind"] == "mirror"
    assert "; CS224N data version 2024 (the papers'); PARTIAL data: " in data_description(config)


def test_a_scale_that_reads_a_mirror_needs_one():
    config = workflow_config("quick")
    config["scales"]["quick"]["data"]["source"] = "mirror"
    with pytest.raises(ConfigError, match="scale 'quick' reads a local mirror: pass --config data_mirror="):
        data_source(config)


def test_data_version_and_quora_holdout_reach_the_source_and_the_caption():
    config = workflow_config("quick", data_version=2023, quora_holdout="true")
    source = data_source(config)
    assert source["data_version"] == "2023" and source["quora_holdout"] is True
    assert "Quora test = the odd half of Quora dev" in data_description(config)
    with pytest.raises(ValueError, match="unknown data_version '2022'"):
        data_source(workflow_config("quick", data_version="2022"))


def test_a_mirror_rebuilds_only_the_tasks_whose_sources_and_test_file_it_holds(tmp_path):
    folder = mirror(tmp_path / "m", files=["ids-sst-test-student.csv"], label_sources=SOURCE_FILES["sst"])
    (folder / "label-sources" / SOURCE_FILES["sts"][0]).write_text("")  # sts: one of three sources
    assert rebuilt_test_tasks(workflow_config("quick", data_mirror=str(folder))) == ["sst"]


def test_label_sources_come_from_the_mirror_when_it_holds_them(tmp_path):
    folder = mirror(tmp_path / "m", label_sources=["sst_dev.txt"])
    declared = workflow_config("quick")["test_labels"]["sources"]
    spec = label_source_spec(workflow_config("quick", data_mirror=str(folder)), "sst_dev.txt")
    assert spec == {**declared["sst_dev.txt"], "url": str(folder.resolve() / "label-sources" / "sst_dev.txt")}
    assert label_source_spec(workflow_config("quick"), "sst_dev.txt") == declared["sst_dev.txt"]
    assert label_source_names("para") == ("quora_duplicate_questions.tsv",)
