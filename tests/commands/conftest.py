"""Small simulated labelled recordings and one bundle trained with few epochs, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgewatch.cli import main


def simulate(path: Path, seed: int, rows: int = 3000, lead: int = 1200, faults: int = 9) -> Path:
    args = ["simulate", "--out", str(path), "--rows", str(rows), "--normal-lead", str(lead), "--features", "8"]
    args += ["--fault-count", str(faults)]
    args += ["--seed", str(seed), "--stops-per-day", "0"]
    assert main(args) == 0
    return path


@pytest.fixture(scope="session")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("evaluate-cli-data")
    # one simulated pump (the seed sets the machine), two recordings with different fault sequences
    return simulate(d / "a.csv", 1), simulate(d / "b.csv", 1, lead=1200, faults=12)


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory, labelled: tuple[Path, Path]) -> Path:
    out = tmp_path_factory.mktemp("evaluate-cli-bundle") / "b"
    rc = main(
        [
            "train",
            str(labelled[0]),
            "--head",
            "1200",
            "--label-col",
            "anomaly",
            "--out",
            str(out),
            "--max-epochs",
            "5",
            "--no-progress",
            "--allow-low-fidelity",
        ]
    )
    assert rc == 0
    return out
