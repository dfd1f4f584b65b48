"""Figures, ratios and targets from the sections' raw results; the table and the JSON document."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.stats import mean, percentile, ratio, summarize_ms

# Every figure the JSON carries: name -> (section, unit, what it is). A figure that could not be
# measured is null in "figures" and has its reason in "skipped".
FIGURES: dict[str, tuple[str, str, str]] = {
    "floor_p50_ms": ("floor", "ms", "rubric checks in-process, student code in-process, per submission (all)"),
    "floor_p95_ms": ("floor", "ms", "the same, 95th percentile (all)"),
    "floor_mean_ms": ("floor", "ms", "the same, mean (all)"),
    "floor_nt_p50_ms": ("floor", "ms", "floor p50 of the submissions that do not time out"),
    "floor_nt_p95_ms": ("floor", "ms", "floor p95 of the submissions that do not time out"),
    "engine_p50_ms": ("engine", "ms", "Engine.grade, warm fork server, per submission (all)"),
    "engine_p95_ms": ("engine", "ms", "the same, 95th percentile (all)"),
    "engine_mean_ms": ("engine", "ms", "the same, mean (all)"),
    "engine_nt_p50_ms": ("engine", "ms", "engine p50 of the submissions that do not time out"),
    "engine_nt_p95_ms": ("engine", "ms", "engine p95 of the submissions that do not time out"),
    "overhead_p50_ms": ("engine", "ms", "engine - floor, paired per submission, p50 (all)"),
    "overhead_p95_ms": ("engine", "ms", "engine - floor, paired per submission, p95 (all)"),
    "overhead_nt_p50_ms": ("engine", "ms", "engine - floor p50, submissions that do not time out"),
    "overhead_nt_p95_ms": ("engine", "ms", "engine - floor p95, submissions that do not time out"),
    "outcome_mismatches": ("engine", "count", "submissions whose per-test outcomes differ between floor and engine"),
    "diagnosis_mean_ms": ("diagnosis", "ms", "time in diagnosis of wrong answers per graded submission, mean (all)"),
    "diagnosis_p95_ms": ("diagnosis", "ms", "the same, 95th percentile (all)"),
    "diagnosis_failing_mean_ms": ("diagnosis", "ms", "the same, mean over submissions with a failed case"),
    "diagnosis_cases_mean": ("diagnosis", "count", "failed cases diagnosed per graded submission, mean"),
    "diagnosis_share_of_floor": ("diagnosis", "%", "time in diagnosis / floor time, all submissions"),
    "naive_p50_ms": ("naive", "ms", "fresh Python process per submission (import torch, collect, run), p50"),
    "naive_p95_ms": ("naive", "ms", "the same, 95th percentile"),
    "naive_mean_ms": ("naive", "ms", "the same, mean"),
    "torch_import_ms": ("naive", "ms", "`import torch` in a fresh naive process, p50"),
    "naive_throughput_per_s": ("naive", "1/s", "cores / naive mean: one naive process per core"),
    "pool_throughput_per_s": ("pool", "1/s", "Engine processes as a worker has, in-memory queue, no service"),
    "pool_worker_peak_rss_mib": ("pool", "MiB", "peak RSS of an engine process in the pool"),
    "bound_throughput_per_s": ("bound", "1/s", "cores / mean floor of the batch's submissions"),
    "service_latency_p50_ms": ("service", "ms", "HTTP upload -> graded, score readable over HTTP, idle system, p50"),
    "service_latency_p95_ms": ("service", "ms", "the same, 95th percentile"),
    "service_floor_p50_ms": (
        "service", "ms", "floor p50 of the same submissions, each measured just before its upload"
    ),
    "batch_wall_s": ("service", "s", "batch regrade of the stored submissions, start -> finished"),
    "batch_throughput_per_s": ("service", "1/s", "batch regrade throughput"),
    "batch_nt_throughput_per_s_est": (
        "service", "1/s", "the same without the time spent on timing-out submissions (estimate)"
    ),
    "worker_peak_rss_mib": ("service", "MiB", "peak RSS of a Celery pool process (runs the Engine)"),
    "worker_rss_growth_mib": ("service", "MiB", "largest RSS growth of a pool process, first vs last 10% of the batch"),
    "fork_server_peak_rss_mib": ("memory", "MiB", "peak RSS of a fork server"),
    "sandbox_peak_rss_mib": (
        "memory", "MiB", "peak RSS of a sandbox (its ru_maxrss; shares torch pages with the fork server)"
    ),
    "sandbox_cgroup_peak_mib": ("memory", "MiB", "peak memory charged to a sandbox's cgroup (what it adds)"),
    "similarity_files": ("similarity", "count", "submissions compared (synthetic; their mean lines in the JSON)"),
    "similarity_wall_s": ("similarity", "s", "the worker's similarity task: fingerprints, every pair, pairs stored"),
    "similarity_pairs_per_s": ("similarity", "1/s", "pairs compared per second of the whole task"),
    "similarity_rss_before_mib": ("similarity", "MiB", "worker process RSS before the run (torch, no copydetect)"),
    "similarity_peak_rss_mib": ("similarity", "MiB", "peak RSS of the worker process during the run"),
    "similarity_copies_found": ("similarity", "count", "planted disguised copies found (of --similarity-copies)"),
    "similarity_other_pairs": ("similarity", "count", "other pairs at or above the threshold (0.6)"),
    "pages_scores_server_p50_ms": (
        "pages", "ms", "GET of the scores page of --students graded students (one page of rows), p50"
    ),
    "pages_scores_server_p95_ms": ("pages", "ms", "the same, 95th percentile"),
    "pages_scores_html_kib": ("pages", "KiB", "the scores page's HTML"),
    "pages_scores_weight_kib": ("pages", "KiB", "all Chromium loads for the scores page, empty cache (HTML, CSS)"),
    "pages_scores_chromium_load_p50_ms": (
        "pages", "ms", "Chromium at 1280x800: navigation start -> load event of the scores page, p50"
    ),
    "engine_over_floor_p50": ("ratio", "x", "engine p50 / floor p50 (all)"),
    "engine_over_floor_mean": ("ratio", "x", "engine mean / floor mean (all)"),
    "naive_over_engine": ("ratio", "x", "naive mean / engine mean on the naive sample"),
    "service_over_bound": ("ratio", "x", "batch throughput / (cores / floor mean)"),
    "service_over_naive": ("ratio", "x", "batch throughput / naive throughput"),
    "pool_over_bound": ("ratio", "x", "pool throughput / (cores / floor mean of the pool's submissions)"),
}


def definitions() -> dict[str, dict[str, str]]:
    """FIGURES as the JSON gives them, so a reader (or a test) needs no import of this module."""
    return {name: {"section": section, "unit": unit, "what": what} for name, (section, unit, what) in FIGURES.items()}


GROWTH_LIMIT_MIB = 32.0  # "no growth": what a pool process may gain over the batch, noise included
SCORES_PAGE_MS = 1000  # a page that answers within a second still reads as immediate
SCORES_PAGE_KIB = 256  # a page of rows and the statistics, whatever the size of the class


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kb = 0
    try:
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parent.parent, timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                    text=True, cwd=Path(__file__).resolve().parent.parent, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory_kb / (1 << 20), 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "kernel": platform.release(),
        "git_commit": commit + ("+dirty" if dirty else ""),
    }


def load_snapshot() -> dict:
    """Load average and CPU pressure now: other work on the machine shows here."""
    snapshot: dict[str, Any] = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        snapshot["loadavg"] = [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        pass
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0].split()
        snapshot["cpu_pressure_some"] = {k: float(v) for k, v in (p.split("=") for p in some[1:4])}
    except (OSError, ValueError, IndexError):
        pass
    return snapshot


def _pick(rows: list[dict], side: str, key: str, predicate: Any = None) -> list[float]:
    return [
        r[side][key] for r in rows
        if side in r and r[side].get(key) is not None and (predicate is None or predicate(r))
    ]


def _ms(seconds: float | None, digits: int = 1) -> float | None:
    return None if seconds is None else round(seconds * 1000, digits)


def compute(results: dict) -> tuple[dict, dict, list[dict]]:
    """(figures, skipped, targets) from the raw section results."""
    figures: dict[str, Any] = {name: None for name in FIGURES}
    skipped: dict[str, str] = {}
    cores = results["config"]["cores"]
    not_timeout = lambda r: not r["times_out"]  # noqa: E731

    pairs = results.get("pairs") or []
    floor_by_index = {r["index"]: r["floor"]["total_s"] for r in pairs if "floor" in r}
    if floor_by_index:
        all_floor = _pick(pairs, "floor", "total_s")
        nt_floor = _pick(pairs, "floor", "total_s", not_timeout)
        figures.update(floor_p50_ms=_ms(percentile(all_floor, 50)), floor_p95_ms=_ms(percentile(all_floor, 95)),
                       floor_mean_ms=_ms(mean(all_floor)), floor_nt_p50_ms=_ms(percentile(nt_floor, 50)),
                       floor_nt_p95_ms=_ms(percentile(nt_floor, 95)))
    if any("engine" in r for r in pairs):
        all_engine = _pick(pairs, "engine", "wall_s")
        nt_engine = _pick(pairs, "engine", "wall_s", not_timeout)
        figures.update(engine_p50_ms=_ms(percentile(all_engine, 50)), engine_p95_ms=_ms(percentile(all_engine, 95)),
                       engine_mean_ms=_ms(mean(all_engine)), engine_nt_p50_ms=_ms(percentile(nt_engine, 50)),
                       engine_nt_p95_ms=_ms(percentile(nt_engine, 95)))
        if floor_by_index:
            over = [r["overhead_s"] for r in pairs if "overhead_s" in r]
            over_nt = [r["overhead_s"] for r in pairs if "overhead_s" in r and not r["times_out"]]
            figures.update(overhead_p50_ms=_ms(percentile(over, 50)), overhead_p95_ms=_ms(percentile(over, 95)),
                           overhead_nt_p50_ms=_ms(percentile(over_nt, 50)),
                           overhead_nt_p95_ms=_ms(percentile(over_nt, 95)),
                           outcome_mismatches=sum(not r["outcomes_agree"] for r in pairs if "outcomes_agree" in r),
                           engine_over_floor_p50=ratio(percentile(all_engine, 50), percentile(all_floor, 50)),
                           engine_over_floor_mean=ratio(mean(all_engine), mean(all_floor)))

    diagnosis = results.get("diagnosis")
    if diagnosis:
        spent = [r["diagnosis_s"] for r in diagnosis]
        failing = [r["diagnosis_s"] for r in diagnosis if r["cases"]]
        figures.update(diagnosis_mean_ms=_ms(mean(spent), 2), diagnosis_p95_ms=_ms(percentile(spent, 95), 2),
                       diagnosis_failing_mean_ms=_ms(mean(failing), 2) if failing else None,
                       diagnosis_cases_mean=round(mean([r["cases"] for r in diagnosis]), 2),
                       diagnosis_share_of_floor=round(100 * sum(spent) / sum(r["floor_run_s"] for r in diagnosis), 2))
        if not failing:
            skipped["diagnosis_failing_mean_ms"] = "no submission of the population failed a case"

    naive = results.get("naive")
    if naive and naive.get("rows"):
        graded = [r for r in naive["rows"] if r["returncode"] == 0]
        ok, imports = [r["wall_s"] for r in graded], [r["torch_import_s"] for r in graded]
        figures.update(naive_p50_ms=_ms(percentile(ok, 50)), naive_p95_ms=_ms(percentile(ok, 95)),
                       naive_mean_ms=_ms(mean(ok)), torch_import_ms=_ms(percentile(imports, 50)),
                       naive_throughput_per_s=round(cores / mean(ok), 3) if ok else None)
        engine_of = {r["index"]: r["engine"]["wall_s"] for r in pairs if "engine" in r}
        same = [engine_of[r["index"]] for r in graded if r["index"] in engine_of]
        if same and ok:
            figures["naive_over_engine"] = ratio(mean(ok), mean(same), 1)

    def bound_for(indexes: list[int]) -> float | None:
        floors = [floor_by_index[i] for i in indexes if i in floor_by_index]
        if not floors or len(floors) != len(indexes):
            return None
        return cores / mean(floors)

    pool = results.get("pool")
    if pool and "throughput_per_s" in pool:
        figures["pool_throughput_per_s"] = pool["throughput_per_s"]
        figures["pool_worker_peak_rss_mib"] = pool.get("worker_peak_rss_mib")
        bound = bound_for([r["index"] for r in pool["rows"]])
        figures["pool_over_bound"] = ratio(pool["throughput_per_s"], bound)

    service = results.get("service")
    if service and "batch" in service:
        batch = service["batch"]
        figures.update(batch_wall_s=batch["wall_s"], batch_throughput_per_s=batch["throughput_per_s"],
                       batch_nt_throughput_per_s_est=batch.get("non_timeout_throughput_per_s_est"))
        bound = bound_for(service.get("batch_indexes", []))
        figures["bound_throughput_per_s"] = None if bound is None else round(bound, 3)
        figures["service_over_bound"] = ratio(batch["throughput_per_s"], bound)
        figures["service_over_naive"] = ratio(batch["throughput_per_s"], figures["naive_throughput_per_s"], 1)
        lat = service["single_latency"]
        figures.update(service_latency_p50_ms=lat["p50_ms"], service_latency_p95_ms=lat["p95_ms"])
        single_floors = [r["floor_s"] if r.get("floor_s") is not None else floor_by_index.get(r["index"])
                         for r in service["singles"]]
        single_floors = [f for f in single_floors if f is not None]
        figures["service_floor_p50_ms"] = _ms(percentile(single_floors, 50))
        mem = service.get("memory", {})
        figures.update(worker_peak_rss_mib=mem.get("worker_peak_rss_mib"),
                       worker_rss_growth_mib=mem.get("worker_rss_growth_max_mib"),
                       fork_server_peak_rss_mib=mem.get("fork_server_peak_rss_mib"))
    elif pool and "throughput_per_s" in pool:
        bound = bound_for([r["index"] for r in pool["rows"]])
        figures["bound_throughput_per_s"] = None if bound is None else round(bound, 3)

    similar = results.get("similarity")
    if similar:
        figures.update(similarity_files=similar["files"], similarity_wall_s=similar["wall_s"],
                       similarity_pairs_per_s=round(similar["pairs_compared"] / similar["wall_s"], 1),
                       similarity_rss_before_mib=similar["rss_before_mib"],
                       similarity_peak_rss_mib=similar["peak_rss_mib"],
                       similarity_copies_found=similar["copies_found"], similarity_other_pairs=similar["other_pairs"])

    sandbox = results.get("sandbox_memory")
    if sandbox:
        figures["sandbox_peak_rss_mib"] = sandbox.get("sandbox_peak_rss_mib")
        figures["sandbox_cgroup_peak_mib"] = sandbox.get("sandbox_cgroup_peak_mib")
        if figures["fork_server_peak_rss_mib"] is None:
            figures["fork_server_peak_rss_mib"] = sandbox.get("fork_server_peak_rss_mib")
    if figures["worker_peak_rss_mib"] is None and pool and pool.get("worker_peak_rss_mib") is not None:
        skipped["worker_peak_rss_mib"] = "no service run; the pool's engine process peaked at " \
                                         f"{pool['worker_peak_rss_mib']} MiB"

    pages = results.get("pages")
    if pages:
        figures.update(pages_scores_server_p50_ms=pages["server"]["p50_ms"],
                       pages_scores_server_p95_ms=pages["server"]["p95_ms"],
                       pages_scores_html_kib=round(pages["html_bytes"] / 1024, 1))
        if "chromium" in pages:
            figures.update(pages_scores_weight_kib=round(pages["chromium"]["bytes"] / 1024, 1),
                           pages_scores_chromium_load_p50_ms=pages["chromium"]["load"]["p50_ms"])
        else:
            for name in ("pages_scores_weight_kib", "pages_scores_chromium_load_p50_ms"):
                skipped[name] = pages["chromium_skipped"]

    section_reasons = results.get("skipped_sections", {})
    for name, (section, _, _) in FIGURES.items():
        if figures[name] is None and name not in skipped:
            reason = section_reasons.get(section) or section_reasons.get(_section_alias(section))
            skipped[name] = reason or "not measured in this run (its inputs are missing)"

    targets = _targets(figures, results["config"].get("similarity_copies"))
    return figures, skipped, targets


def _section_alias(section: str) -> str:
    return {"ratio": "service", "bound": "service"}.get(section, section)


def _targets(f: dict, similarity_copies: int | None) -> list[dict]:
    def target(name: str, text: str, value: Any, ok: bool | None) -> dict:
        return {"name": name, "target": text, "value": value, "pass": ok}

    def le(a: Any, b: Any) -> bool | None:
        return None if a is None or b is None else a <= b

    def ge(a: Any, b: Any) -> bool | None:
        return None if a is None or b is None else a >= b

    latency_limit = None if f["service_floor_p50_ms"] is None else round(f["service_floor_p50_ms"] + 150, 1)
    return [
        target("engine overhead p50", "<= 30 ms above the floor", f["overhead_p50_ms"], le(f["overhead_p50_ms"], 30)),
        target("batch throughput vs bound", ">= 0.80 x cores / floor", f["service_over_bound"],
               ge(f["service_over_bound"], 0.80)),
        target("batch throughput vs naive", ">= 10 x naive", f["service_over_naive"], ge(f["service_over_naive"], 10)),
        target("service latency p50", f"<= floor + 150 ms ({latency_limit} ms)", f["service_latency_p50_ms"],
               le(f["service_latency_p50_ms"], latency_limit)),
        target("worker RSS", "<= 1024 MiB", f["worker_peak_rss_mib"], le(f["worker_peak_rss_mib"], 1024)),
        target("worker RSS growth over the batch", f"<= {GROWTH_LIMIT_MIB:g} MiB (no leak)", f["worker_rss_growth_mib"],
               le(f["worker_rss_growth_mib"], GROWTH_LIMIT_MIB)),
        target("similarity run: worker peak RSS", "<= 1024 MiB", f["similarity_peak_rss_mib"],
               le(f["similarity_peak_rss_mib"], 1024)),
        target("similarity run: planted copies found", f"all {similarity_copies}", f["similarity_copies_found"],
               ge(f["similarity_copies_found"], similarity_copies)),
        target("scores page, server p50", f"<= {SCORES_PAGE_MS} ms", f["pages_scores_server_p50_ms"],
               le(f["pages_scores_server_p50_ms"], SCORES_PAGE_MS)),
        target("scores page, Chromium load p50", f"<= {SCORES_PAGE_MS} ms", f["pages_scores_chromium_load_p50_ms"],
               le(f["pages_scores_chromium_load_p50_ms"], SCORES_PAGE_MS)),
        target("scores page weight", f"<= {SCORES_PAGE_KIB} KiB", f["pages_scores_weight_kib"],
               le(f["pages_scores_weight_kib"], SCORES_PAGE_KIB)),
    ]


def sections_summary(results: dict) -> dict:
    """Per-category engine/floor summaries, for the JSON."""
    pairs = results.get("pairs") or []
    out = {}
    for category in sorted({r["category"] for r in pairs}):
        rows = [r for r in pairs if r["category"] == category]
        out[category] = {
            "n": len(rows),
            "floor": summarize_ms(_pick(rows, "floor", "total_s")),
            "engine": summarize_ms(_pick(rows, "engine", "wall_s")),
            "overhead": summarize_ms(r["overhead_s"] for r in rows if "overhead_s" in r),
        }
    return out


def render(console: Any, document: dict) -> None:
    from rich.table import Table

    figures, skipped, targets = document["figures"], document["skipped"], document["targets"]
    m = document["machine"]
    console.print(f"[bold]Machine[/bold]: {m['cpu_count']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, "
                  f"Python {m['python']}, torch {m['torch']}, commit {m['git_commit']}")
    before, after = document["load"]["before"], document["load"]["after"]
    console.print(f"[bold]Load[/bold]: loadavg {before.get('loadavg')} before, {after.get('loadavg')} after; "
                  f"CPU pressure avg60 {before.get('cpu_pressure_some', {}).get('avg60')} -> "
                  f"{after.get('cpu_pressure_some', {}).get('avg60')} %")
    pop = document["population"]
    console.print(f"[bold]Population[/bold]: {pop['size']} submissions {pop['by_category']}, seed "
                  f"{document['config']['seed']}, call_timeout_s {document['config']['call_timeout_s']}")
    table = Table(title="Grading benchmark", show_lines=False)
    table.add_column("section")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("what")
    last = None
    for name, (section, unit, what) in FIGURES.items():
        value = figures.get(name)
        shown = "-" if value is None else f"{value:g}" if isinstance(value, (int, float)) else str(value)
        note = what if value is not None else f"[dim]{skipped.get(name, '')}[/dim]"
        table.add_row(section if section != last else "", name, shown, unit, note)
        last = section
    console.print(table)
    checks = Table(title="Targets")
    checks.add_column("target")
    checks.add_column("wanted")
    checks.add_column("value", justify="right")
    checks.add_column("result")
    for t in targets:
        result = "[green]PASS[/green]" if t["pass"] else "[red]FAIL[/red]" if t["pass"] is False else "[dim]n/a[/dim]"
        checks.add_row(t["name"], t["target"], "-" if t["value"] is None else f"{t['value']:g}", result)
    console.print(checks)


def write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")
