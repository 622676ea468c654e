"""Files are named by their path relative to the common parent of all inputs."""

from __future__ import annotations

from pathlib import Path

from edgewatch.evaluate.names import display_names


def test_two_files_of_one_name_in_different_folders_stay_apart(tmp_path: Path) -> None:
    a, b = tmp_path / "valve1" / "1.csv", tmp_path / "valve2" / "1.csv"
    assert display_names([a, b]) == ["valve1/1.csv", "valve2/1.csv"]


def test_files_of_one_folder_are_named_by_their_name(tmp_path: Path) -> None:
    assert display_names([tmp_path / "a.csv", tmp_path / "b.csv"]) == ["a.csv", "b.csv"]
    assert display_names([tmp_path / "deep" / "x" / "only.csv"]) == ["only.csv"]
    assert display_names([]) == []


def test_relative_and_nested_paths(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    names = display_names(["data/valve1/1.csv", "data/other.csv", str(tmp_path / "data" / "valve2" / "1.csv")])
    assert names == ["valve1/1.csv", "other.csv", "valve2/1.csv"]
