"""`python -m benchmarks.similarity_task`: one similarity run of a synthetic class, done by the
worker's own task (workers.tasks.check_similarity) in this process, as a worker's pool process
does it (torch and the grading code loaded), on a scratch SQLite database that the parent names
with GRADER_* variables. Prints one JSON line: the time, the memory, what the run found.

Peak RSS is the kernel's high-water mark, reset just before the run (/proc/self/clear_refs), so
it is the run's peak on top of what the process held before it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

from benchmarks.memory import MiB, proc_status
from benchmarks.similarity_population import generate


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.similarity_task")
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--copies", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.6)
    args = parser.parse_args(argv)

    import workers.tasks  # what a pool process holds: torch, the engine, the tasks
    from grader.config import get_settings
    from grader.db.models import CourseRole, Enrolment, Role, Submission, User
    from grader.db.session import session_scope, upgrade_schema
    from grader.services import assignments, courses, similarity

    upgrade_schema(get_settings().resolved_database_url)
    population = generate(args.size, args.copies, args.seed)
    with session_scope() as db:
        prof = User(email="prof@bench.test", name="Prof", role=Role.instructor)
        students = [User(email=f"s{key:04d}@bench.test", name=f"Student {key}", role=Role.student)
                    for key, _ in population.files]
        db.add_all([prof, *students])
        db.flush()
        course = courses.create_course(db, prof, "BENCH", "Similarity benchmark")  # prof teaches it
        hw = assignments.create_assignment(db, prof, course, "hw2", "hw2", assignments.AssignmentSettings(title="HW2"))
        db.add_all([Enrolment(course_id=course.id, user_id=s.id, role=CourseRole.student) for s in students])
        uploads = [Submission(assignment_id=hw.id, user_id=student.id, filename="hw2.py", size=len(text.encode()),
                              sha256=hashlib.sha256(text.encode()).hexdigest(), content=text.encode(),
                              rubric_hash=hw.rubric_hash)
                   for student, (_, text) in zip(students, population.files, strict=True)]
        db.add_all(uploads)
        db.flush()
        key_of = {upload.id: key for upload, (key, _) in zip(uploads, population.files, strict=True)}
        run = similarity.start_run(db, prof, hw, args.threshold)
        db.commit()
        run_id = run.id

    before = proc_status(os.getpid()).get("VmRSS", 0)
    peak_was_reset = _reset_peak_rss()
    started = time.perf_counter()
    outcome = workers.tasks.check_similarity(run_id)
    wall = time.perf_counter() - started
    peak = proc_status(os.getpid()).get("VmHWM", 0)

    with session_scope() as db:
        progress = similarity.run_progress(db, prof, run_id)
        found = {(key_of[p["submission_a_id"]], key_of[p["submission_b_id"]])
                 for p in similarity.list_pairs(db, prof, run_id)}
    print(json.dumps({
        "outcome": outcome, "status": progress["status"], "done": progress["done"], "total": progress["total"],
        "files": progress["submissions"], "mean_lines": round(population.mean_lines, 1),
        "pairs_compared": args.size * (args.size - 1) // 2, "wall_s": round(wall, 2),
        "rss_before_mib": round(before / MiB, 1), "peak_rss_mib": round(peak / MiB, 1),
        "peak_measures_the_run_only": peak_was_reset,
        "copies_planted": len(population.copies), "copies_found": len(population.copies & found),
        "other_pairs": len(found - population.copies),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
