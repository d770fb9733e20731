"""The benchmark's harness, run once with every figure at its smallest (`python -m bench.run --smoke`), so that
it cannot rot between benchmark runs. Asserts well-formed results only: timings belong to the bench itself,
never to a test."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, describe

FIGURES = [*range(1, 10), 11]  # figure 10 needs a Docker engine: the smoke run leaves it out
VERDICTS = {"met", "missed", "no goal"}


def test_smoke_run_writes_results_for_every_figure(tmp_path: Path) -> None:
    for program in ("tini", "curl", "unshare"):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed (scripts/test.sh installs it)")
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, describe(proc)

    results = json.loads((tmp_path / "latest.json").read_text())
    assert results["smoke"] is True
    assert {"cpu", "cores", "memory_gb", "kernel", "os", "python", "load_before", "load_after"} <= set(
        results["machine"]), results["machine"]
    for peer in ("prod-entry", "tini", "dumb-init", "gunicorn", "django-webserver"):
        assert results["versions"].get(peer, "missing") != "missing", results["versions"]
    assert [figure["id"] for figure in results["figures"]] == FIGURES, describe(proc)
    for figure in results["figures"]:
        where = f"figure {figure['id']}: {json.dumps(figure)[:2000]}"
        assert figure["verdict"] in VERDICTS, where
        assert figure["goal"] and figure["unit"] and figure["runs"] >= 1, where
        roles = [series["role"] for series in figure["series"]]
        assert "prod-entry" in roles and "peer" in roles, where
        for series in figure["series"]:
            assert series["n"] == len(series["samples"]) >= 1, where
            assert series["min"] <= series["q1"] <= series["median"] <= series["q3"] <= series["max"], where
        assert figure["ratios"] and all(math.isfinite(ratio["value"]) for ratio in figure["ratios"]), where

    table = (tmp_path / "latest.md").read_text()
    assert "| # | figure | prod-entry | ratio to peer | goal | verdict |" in table, table
    for number in FIGURES:
        assert f"\n| {number} | " in table, table
        assert (tmp_path / f"fig{number}.png").read_bytes().startswith(b"\x89PNG"), f"fig{number}.png"
