"""Timing probes: a submission with a few lines added that print, from inside the sandbox, when its
import started and ended, how long its functions ran and which modules it imported after the fork
(the sandbox cannot be timed from outside without editing grader/)."""

from __future__ import annotations

import re
from typing import Any

from benchmarks.population import Submission
from grader.submission import prepare_source


PROBE_HEAD = '''import sys as _bench_sys, time as _bench_clock
print("BENCH_IMPORT_START=%r" % _bench_clock.time(), flush=True)
'''

PROBE_TAIL = '''

# --- appended by the benchmark's profile: time this module's functions inside the sandbox ---
import functools as _bench_functools

_BENCH = {"calls": 0, "compute": 0.0, "depth": 0, "modules": set(_bench_sys.modules)}
print("BENCH_IMPORT_END=%r" % _bench_clock.time(), flush=True)


def _bench_wrap(function):
    @_bench_functools.wraps(function)
    def wrapper(*args, **kwargs):
        outer = _BENCH["depth"] == 0
        _BENCH["depth"] += 1
        started = _bench_clock.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _BENCH["depth"] -= 1
            if outer:
                took = _bench_clock.perf_counter() - started
                _BENCH["calls"] += 1
                _BENCH["compute"] += took
                if len(_bench_sys.modules) != len(_BENCH["modules"]):
                    new = sorted({m.split(".")[0] for m in set(_bench_sys.modules) - _BENCH["modules"]})
                    _BENCH["modules"] = set(_bench_sys.modules)
                    print("BENCH_NEW_MODULES fn=%s took=%.4f mods=%s" % (function.__name__, took, ",".join(new)[:300]), flush=True)
                print("BENCH_CALLS=%d,%.6f" % (_BENCH["calls"], _BENCH["compute"]), flush=True)
    return wrapper


for _bench_name, _bench_value in list(globals().items()):
    if callable(_bench_value) and not _bench_name.startswith("_") and getattr(_bench_value, "__module__", None) == __name__:
        globals()[_bench_name] = _bench_wrap(_bench_value)
'''


def timing_probe(submission: Submission) -> Submission:
    """The submission as a .py file that reports its own timings from inside the sandbox."""
    source = submission.tame_source or prepare_source(submission.filename, submission.data)
    data = (PROBE_HEAD + source + PROBE_TAIL).encode()
    return Submission(submission.index, submission.name, submission.category, submission.template, "hw2.py", data,
                      submission.expected_score)


def parse_probe(output: str) -> dict:
    found: dict[str, Any] = {"new_modules": []}
    for key in ("BENCH_IMPORT_START", "BENCH_IMPORT_END"):
        match = re.findall(key + r"=([0-9.]+)", output)
        if match:
            found[key] = float(match[0])
    calls = re.findall(r"BENCH_CALLS=(\d+),([0-9.]+)", output)
    if calls:
        found["calls"], found["compute_s"] = int(calls[-1][0]), float(calls[-1][1])
    for fn, took, mods in re.findall(r"BENCH_NEW_MODULES fn=(\S+) took=([0-9.]+) mods=(\S*)", output):
        found["new_modules"].append({"function": fn, "call_s": float(took), "modules": mods.split(",")})
    return found
