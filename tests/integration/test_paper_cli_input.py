"""`crossroute paper` refuses a malformed --speed with one line and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("speed", ["1e3", "١", "-1", "NaN", "1_0", "2000000", "0.0000001"])
def test_bad_speed_is_one_line_and_exit_2(speed, tmp_path):
    argv = [sys.executable, "-m", "router.cli", "paper", "--speed", speed, "--port", "0"]
    argv += ["--db", str(tmp_path / "p.db")]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "--speed" in done.stderr and speed in done.stderr
    assert not (tmp_path / "p.db").exists()  # refused before anything was created
