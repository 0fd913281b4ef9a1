"""The package is typed: it ships py.typed and `mypy --strict` finds nothing."""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
from pathlib import Path

SDK_ROOT = Path(__file__).resolve().parents[1]


def test_ships_py_typed() -> None:
    assert (importlib.resources.files("hearth") / "py.typed").is_file()


def test_mypy_strict_on_the_package(tmp_path: Path) -> None:
    # `-p hearth` from a directory without sources: mypy checks the installed package,
    # which it finds only because the package ships py.typed.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(SDK_ROOT / "pyproject.toml"),
            "--cache-dir",
            str(SDK_ROOT / ".mypy_cache"),
            "-p",
            "hearth",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
