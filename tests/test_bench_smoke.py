"""The benchmark (`make bench`) runs end to end on a tiny population and writes every figure.

Not a performance test: it checks that each section runs, that the floor and the engine agree on
every test's outcome, and that the JSON has every figure (a number, or the reason it is missing).
The service part (HTTP, PostgreSQL, Redis, Celery) runs only where the service layer imports and
both servers answer; elsewhere its figures must say why they were skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import service
from benchmarks.report import FIGURES

ROOT = Path(__file__).resolve().parent.parent
SERVICE_FIGURES = {name for name, (section, _, _) in FIGURES.items() if section in ("service", "bound")} | {
    "service_over_bound", "service_over_naive"}


@pytest.mark.timeout(300)
def test_benchmark_writes_every_figure(tmp_path: Path) -> None:
    reason = service.unavailable()
    out = tmp_path / "results.json"
    command = [sys.executable, "-m", "benchmarks", "--size", "4", "--naive", "1", "--pool-size", "4",
               "--singles", "2", "--batch", "4", "--call-timeout", "1", "--skip", "profile",
               "--json", str(out), "--quiet"]
    if reason is not None:
        command[command.index("profile")] = "profile,service"
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())

    assert result["errors"] == {}
    assert result["population"]["size"] == 4
    figures, skipped = result["figures"], result["skipped"]
    assert set(figures) == set(FIGURES)
    for name, value in figures.items():
        assert value is not None or skipped.get(name), f"{name} is missing and no reason is given"
    measured = set(FIGURES) - SERVICE_FIGURES - ({"worker_peak_rss_mib", "worker_rss_growth_mib"} if reason else set())
    missing = sorted(name for name in measured if figures[name] is None)
    assert missing == [], {name: skipped.get(name) for name in missing}
    if reason is None:
        assert all(figures[name] is not None for name in SERVICE_FIGURES), skipped
        assert result["sections"]["service"]["batch"]["progress"]["status"] == "finished"
    else:
        assert all("service" in skipped[name] or "skipped" in skipped[name] for name in SERVICE_FIGURES
                   if figures[name] is None)

    assert figures["outcome_mismatches"] == 0
    for row in result["sections"]["pairs"]:
        if row["expected_score"] is not None:
            assert row["engine"]["score"] == pytest.approx(row["expected_score"], abs=1e-4), row["name"]
            assert row["floor"]["score"] == pytest.approx(row["expected_score"], abs=1e-4), row["name"]
    assert [t["name"] for t in result["targets"]] and all("pass" in t for t in result["targets"])
    assert result["machine"]["cpu_count"] >= 1 and result["machine"]["cpu_model"]
