"""The benchmark (`make bench`) runs end to end on a tiny population and writes every figure.

Not a performance test: it runs `python -m benchmarks` as a user does and reads the JSON it
writes, to check that each section runs, that the floor and the engine agree on every test's
outcome, and that every figure the JSON defines is there (a number, or the reason it is missing).
The service part (HTTP, PostgreSQL, Redis, Celery) runs on the servers the tests use; where they
are missing its figures must say why, and in CI (CI=true) it must run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.services import POSTGRES_URL, REDIS_URL

ROOT = Path(__file__).resolve().parent.parent
RATIOS = ("naive_over_engine", "service_over_bound", "service_over_naive")  # the headline, by these names
SERVICE_RATIOS = {"service_over_bound", "service_over_naive"}
WORKER_MEMORY = {"worker_peak_rss_mib", "worker_rss_growth_mib"}  # measured by the service part


@pytest.mark.timeout(300)
def test_benchmark_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    # One worker process: the figures are the same kind with any number, and the run costs the
    # same on every machine (the default is the workers' own: one per core, plus one).
    command = [sys.executable, "-m", "benchmarks", "--size", "4", "--naive", "1", "--pool-size", "4",
               "--singles", "2", "--batch", "4", "--call-timeout", "1", "--workers", "1",
               "--similarity-size", "12", "--similarity-copies", "2",
               "--students", "20", "--page-loads", "1", "--json", str(out), "--quiet"]
    env = {**os.environ, "BENCH_POSTGRES_URL": POSTGRES_URL, "BENCH_REDIS_URL": REDIS_URL}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())

    assert result["errors"] == {}
    assert result["population"]["size"] == 4
    figures, skipped, definitions = result["figures"], result["skipped"], result["definitions"]
    assert set(figures) == set(definitions) and set(RATIOS) <= set(figures)
    for name, value in figures.items():
        assert value is not None or skipped.get(name), f"{name} is missing and no reason is given"

    service = {name for name, d in definitions.items() if d["section"] in ("service", "bound")} | SERVICE_RATIOS
    pages = {name for name, d in definitions.items() if d["section"] == "pages"}  # PostgreSQL and Chromium
    service_ran = "service" in result["sections"]
    if not service_ran and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the benchmark's service part did not run (CI=true): {skipped.get('batch_wall_s')}")
    if os.environ.get("CI", "").lower() == "true":
        assert all(figures[name] is not None for name in pages), {name: skipped.get(name) for name in pages}
    if "pages" in result["sections"]:
        assert figures["pages_scores_html_kib"] > 0 and figures["pages_scores_server_p50_ms"] > 0
    measured = set(figures) - service - pages - (set() if service_ran else WORKER_MEMORY)
    missing = sorted(name for name in measured if figures[name] is None)
    assert missing == [], {name: skipped.get(name) for name in missing}
    if service_ran:
        assert all(figures[name] is not None for name in service), skipped
        assert result["sections"]["service"]["batch"]["progress"]["status"] == "finished"
    else:
        assert all("service" in skipped[name] or "skipped" in skipped[name] for name in service
                   if figures[name] is None)

    assert figures["outcome_mismatches"] == 0
    similarity = result["sections"]["similarity"]
    assert similarity["status"] == "finished" and similarity["done"] == similarity["total"] == 12 + 12 * 11 // 2
    assert figures["similarity_copies_found"] == 2
    for row in result["sections"]["pairs"]:
        if row["expected_score"] is not None:
            assert row["engine"]["score"] == pytest.approx(row["expected_score"], abs=1e-4), row["name"]
            assert row["floor"]["score"] == pytest.approx(row["expected_score"], abs=1e-4), row["name"]
    assert [t["name"] for t in result["targets"]] and all("pass" in t for t in result["targets"])
    assert result["machine"]["cpu_count"] >= 1 and result["machine"]["cpu_model"]
