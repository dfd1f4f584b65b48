"""`make bench` / `python -m benchmarks`: every figure of the grading benchmark, side by side.

Sections (run in this order; `--only` and `--skip` pick them):
  floor    the rubric's checks with the student's code in-process (no sandbox, no queue)
  engine   Engine.grade with a warm fork server, paired with the floor per submission
  memory   a sandbox's peak RSS (probe submission) and cgroup charge, the fork server's RSS
  diagnosis  the time the floor spends diagnosing wrong answers, per graded submission
  naive    a fresh Python process per submission (a sample)
  pool     Engine processes (as many as a worker has) on an in-memory queue (no service)
  service  HTTP -> PostgreSQL -> Redis -> Celery workers: single-upload latency and a batch
           regrade's throughput, with worker RSS sampled every second (skipped, with the reason,
           when PostgreSQL or Redis is not reachable)
  similarity  the worker's similarity task over a synthetic class (--similarity-size files, some
           planted copies) in a fresh process: wall time, peak RSS, copies found
  pages    the scores page of a class of --students graded students: its bytes, the server's time
           to answer it and Chromium's time to load it (skipped like service)

Prints a table and writes JSON (default .bench/results.json). Absolute times vary from machine
to machine (and with whatever else runs on it: the load is recorded); the ratios are the headline.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from rich.console import Console

SECTIONS = ("floor", "engine", "memory", "diagnosis", "naive", "pool", "service", "similarity", "pages")
ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.split("\n")[2:]))
    parser.add_argument("--size", type=int, default=50, help="submissions in the population (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="population seed (default 0)")
    parser.add_argument("--only", default="", help=f"comma-separated sections to run ({','.join(SECTIONS)})")
    parser.add_argument("--skip", default="", help="comma-separated sections to leave out")
    parser.add_argument("--json", type=Path, default=ROOT / ".bench" / "results.json", help="where to write the JSON")
    parser.add_argument("--naive", type=int, default=6, help="submissions in the naive sample (default 6)")
    parser.add_argument("--pool-size", type=int, default=300,
                        help="submissions the pool grades (default 300: each worker learns the rubric's calls "
                             "from its first two, so a short run shows warm-up rather than the steady state)")
    parser.add_argument("--singles", type=int, default=20, help="single uploads timed one by one (default 20)")
    parser.add_argument(
        "--batch", type=int, default=1000, help="stored submissions in the batch regrade (default 1000)"
    )
    parser.add_argument("--similarity-size", type=int, default=600,
                        help="submissions the similarity run compares (default 600)")
    parser.add_argument("--similarity-copies", type=int, default=6,
                        help="disguised copies planted among them (default 6)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: GRADER_WORKER_CONCURRENCY)")
    parser.add_argument("--students", type=int, default=600,
                        help="students of the class whose scores page is measured (default 600)")
    parser.add_argument("--page-loads", type=int, default=5, help="timed loads of that page (default 5)")
    parser.add_argument("--call-timeout", type=float, default=2.0,
                        help="call_timeout_s of the rubric copy the benchmark grades with (default 2; the real "
                             "HW2 rubric says 10): timing-out submissions cost this much each")
    parser.add_argument("--real-limits", action="store_true", help="grade with rubrics/hw2's own limits")
    parser.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment for the pool's and the service's worker processes (repeatable), "
                             "e.g. OMP_NUM_THREADS=1 to try a fix without changing the code")
    parser.add_argument("--quiet", action="store_true", help="no per-submission progress lines")
    args = parser.parse_args(argv)
    chosen = [s for s in args.only.split(",") if s] or list(SECTIONS)
    unknown = sorted(set(chosen + [s for s in args.skip.split(",") if s]) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    args.sections = [s for s in SECTIONS if s in chosen and s not in args.skip.split(",")]
    try:
        args.worker_env = dict(item.split("=", 1) for item in args.worker_env)
    except ValueError:
        parser.error("--worker-env wants NAME=VALUE")
    if args.size < 1:
        parser.error("--size must be at least 1")
    if not 0 <= args.similarity_copies <= args.similarity_size // 2:
        parser.error("--similarity-copies must be between 0 and half of --similarity-size")
    if args.students < 1 or args.page_loads < 1:
        parser.error("--students and --page-loads must be at least 1")
    return args


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The figures are of the default start (each engine its own fork server, a child it can be
    # measured through), not of a fork-server template the environment may name.
    os.environ.pop("GRADER_SANDBOX_TEMPLATE", None)
    console = Console(width=None if sys.stdout.isatty() else 160)
    log = (lambda line: None) if args.quiet else (lambda line: console.print(line, markup=False, highlight=False))
    started = time.perf_counter()

    from benchmarks import report
    from benchmarks.population import generate, rubric_copy, summary

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    from grader.config import Settings

    workers = args.workers or Settings().resolved_worker_concurrency
    results: dict = {"skipped_sections": {}, "errors": {}}
    document: dict = {"machine": report.machine(), "load": {"before": report.load_snapshot()}}
    population = generate(args.size, args.seed)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    rubrics_dir = work / "rubrics"
    call_timeout = None if args.real_limits else args.call_timeout
    rubric_dir = rubric_copy(rubrics_dir, call_timeout)

    from grader.rubric_spec import load_rubric

    rubric = load_rubric(rubric_dir)
    results["config"] = {
        "size": args.size, "seed": args.seed, "sections": args.sections, "cores": cores, "workers": workers,
        "call_timeout_s": rubric.limits.call_timeout_s, "submission_timeout_s": rubric.limits.submission_timeout_s,
        "naive_sample": args.naive, "singles": args.singles, "batch": args.batch, "students": args.students,
        "pool_size": args.pool_size, "rubric_hash": rubric.content_hash,
        "similarity_size": args.similarity_size, "similarity_copies": args.similarity_copies,
        "floor_torch_threads": 1, "engine_torch_threads": _torch_threads(), "worker_env": args.worker_env,
        "rubric_limits": (
            "rubrics/hw2 as is" if args.real_limits else f"rubrics/hw2 with call_timeout_s={call_timeout:g}"
        ),
    }
    log(f"population: {summary(population)['by_category']}; rubric copy {rubric_dir} "
        f"(call_timeout_s {rubric.limits.call_timeout_s:g}); sections {', '.join(args.sections)}")

    def section(name: str, run) -> None:  # type: ignore[no-untyped-def]
        if name not in args.sections:
            results["skipped_sections"].setdefault(name, "not selected (--only/--skip)")
            return
        t0 = time.perf_counter()
        results.setdefault("section_load", {})[name] = {"before": report.load_snapshot()}
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - a failed section is reported, the others still run
            results["errors"][name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-3000:]}"
            results["skipped_sections"][name] = f"failed: {type(exc).__name__}: {exc}"
            console.print(f"[red]section {name} failed:[/red] {type(exc).__name__}: {exc}")
        results.setdefault("section_seconds", {})[name] = round(time.perf_counter() - t0, 1)
        results["section_load"][name]["after"] = report.load_snapshot()

    engine_holder: dict = {}

    def paired() -> None:
        from benchmarks.engine_bench import run_pairs
        from grader.engine import Engine

        engine = Engine() if "engine" in args.sections else None
        engine_holder["engine"] = engine
        results["pairs"] = run_pairs(population, rubric, engine, "floor" in args.sections, log)

    if "floor" in args.sections or "engine" in args.sections:
        section("floor" if "floor" in args.sections else "engine", paired)
        if "engine" not in args.sections:
            results["skipped_sections"]["engine"] = "not selected (--only/--skip)"
        if "floor" not in args.sections:
            results["skipped_sections"]["floor"] = "not selected (--only/--skip)"
    else:
        for name in ("floor", "engine"):
            results["skipped_sections"][name] = "not selected (--only/--skip)"

    def engine_now():  # type: ignore[no-untyped-def]
        from grader.engine import Engine

        if engine_holder.get("engine") is None:
            engine_holder["engine"] = Engine()
        return engine_holder["engine"]

    def sandbox_memory() -> None:
        from benchmarks.engine_bench import sandbox_memory as measure

        results["sandbox_memory"] = measure(engine_now(), population, rubric)
        log(f"memory: {results['sandbox_memory']}")

    section("memory", sandbox_memory)
    if engine_holder.get("engine") is not None:
        engine_holder["engine"].close()
        engine_holder.clear()

    def diagnosis() -> None:
        from benchmarks.diagnosis import run_diagnosis

        results["diagnosis"] = run_diagnosis(population, rubric, log)

    section("diagnosis", diagnosis)

    def naive() -> None:
        from benchmarks import naive as naive_mod

        chosen = naive_mod.sample(population, args.naive)
        results["naive"] = {"rows": naive_mod.run_naive(chosen, rubric_dir, log)}

    section("naive", naive)

    def pool() -> None:
        from benchmarks.pool import run_pool

        results["pool"] = run_pool(population, rubric_dir, workers, args.pool_size, log,
                                   env=args.worker_env or None)

    section("pool", pool)

    def stack_missing(name: str) -> bool:
        """Whether PostgreSQL or Redis is missing for section `name` (then recorded as skipped)."""
        from benchmarks.service_stack import unavailable

        reason = unavailable()
        if reason is not None:
            results["skipped_sections"][name] = f"skipped: {reason}"
            log(f"{name}: skipped: {reason}")
        return reason is not None

    stack_holder: dict = {}

    def stack():  # type: ignore[no-untyped-def]
        """The service stack the service and pages sections share (closed after both)."""
        from benchmarks.service_stack import Stack

        if "stack" not in stack_holder:
            stack_holder["stack"] = Stack(rubrics_dir, work / "stack", workers, args.worker_env)
        return stack_holder["stack"]

    def service() -> None:
        from benchmarks import service as service_mod

        if stack_missing("service"):
            return
        from benchmarks.floor import floor_once

        result = service_mod.run_service(stack(), population, args.singles, args.batch,
                                         rubric.limits.call_timeout_s, log,
                                         floor=lambda sub: floor_once(sub, rubric).total_s)
        result["batch_indexes"] = [population[i % len(population)].index for i in range(args.batch)]
        results["service"] = result

    section("service", service)

    def similarity() -> None:
        from benchmarks.similarity import run_similarity

        results["similarity"] = run_similarity(args.similarity_size, args.similarity_copies, args.seed, log)

    section("similarity", similarity)

    def pages() -> None:
        from benchmarks import pages as pages_mod

        if stack_missing("pages"):
            return
        results["pages"] = pages_mod.run_pages(stack(), args.students, args.page_loads, log)

    try:
        section("pages", pages)
    finally:
        if "stack" in stack_holder:
            stack_holder["stack"].close()

    document["load"]["after"] = report.load_snapshot()
    figures, skipped, targets = report.compute(results)
    document.update({
        "config": results["config"],
        "population": summary(population),
        "figures": figures,
        "definitions": report.definitions(),
        "skipped": skipped,
        "targets": targets,
        "by_category": report.sections_summary(results),
        "sections": {k: results[k] for k in ("pairs", "diagnosis", "naive", "pool", "service", "sandbox_memory",
                                             "similarity", "pages") if k in results},
        "errors": results["errors"],
        "section_seconds": results.get("section_seconds", {}),
        "section_load": results.get("section_load", {}),
        "duration_s": round(time.perf_counter() - started, 1),
    })
    report.write_json(args.json, document)
    report.render(console, document)
    console.print(f"JSON: {args.json}  ({document['duration_s']} s in all)")
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
