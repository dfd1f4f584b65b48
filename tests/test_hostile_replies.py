"""Replies a hostile sandbox can send: forged frames written straight to its channel, and values
an honest encoder can't carry. Each costs the trusted side time and memory in proportion to its
size, counted against the call, and fails only its own question, with a clear reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tests.test_hostile import full_except

T = TypeVar("T")

# Student code that sends `payload` (raw JSON) as the value of a reply, in the same envelope the
# sandbox's own encoder makes, by writing it to the channel before the honest reply.
FORGE = """
import os, stat

def forge(payload):
    from grader.sandbox.protocol import HEADER, encode  # already loaded in the sandbox
    document = encode({"ok": "PAYLOAD"})[HEADER.size:].replace(b'"PAYLOAD"', payload)
    message = memoryview(HEADER.pack(len(document), 0) + document)
    for fd in range(3, 256):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                while message:
                    message = message[os.write(fd, message):]
                return
        except OSError:
            pass
"""


def forging(payload: str) -> str:
    """An attack: initial_loss sends the forged reply whose value is the JSON `payload`."""
    return FORGE + f"""
def initial_loss(num_classes):
    forge({payload})
    return 0.0
"""


def test_dict_keys_that_hash_alike_cost_no_more_than_their_bytes(grade_attack, fast_hw2_rubric):
    """3 MB of int keys that all hash alike: building the dict kept the grade past its deadline."""
    started = time.monotonic()
    report = grade_attack(forging(
        'b\'{"$":"dict","v":[\' + b",".join(b"[%d,0]" % (i * ((1 << 61) - 1)) for i in range(1, 130_000)) + b"]}"'
    ))
    assert time.monotonic() - started < fast_hw2_rubric.limits.submission_timeout_s
    full_except(report, "1.3.4")
    assert "the sandbox sent malformed data in initial_loss()" in report.question("1.3.4").output


def with_peak_rss_growth(action: Callable[[], T]) -> tuple[T, int]:
    """What `action` returns, and by how many bytes this process's peak resident size rose above
    its size before it."""
    def status(field: str) -> int:
        with open("/proc/self/status") as handle:
            return next(int(line.split()[1]) * 1024 for line in handle if line.startswith(field))

    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets the peak (VmHWM) to the current size
    before = status("VmRSS:")
    result = action()
    return result, status("VmHWM:") - before


def test_a_reply_of_empty_lists_costs_a_small_multiple_of_its_size(grade_attack):
    """32 MiB of `[],` became millions of lists in the trusted process, over 1.5 GiB."""
    size = 32 << 20
    grade_attack("")  # warm: the rubric collected, the checks' memory in use
    attack = forging(f'b"[" + b"[]," * {size // 3 - 100} + b"0]"')
    report, growth = with_peak_rss_growth(lambda: grade_attack(attack))
    assert growth <= 8 * size, f"the grade's peak resident size grew {growth >> 20} MiB"
    full_except(report, "1.3.4")
    assert "the sandbox sent malformed data in initial_loss()" in report.question("1.3.4").output


def test_a_wrong_shaped_reply_costs_a_small_multiple_of_its_size(grade_attack):
    """32 MiB of uint8 of the wrong shape: the check made it float64 before looking at its shape,
    and signing it for the diagnosis made some fifteen float64 copies of it, over 2.5 GiB in all
    and seconds of the worker's CPU for each failed case, none of it counted against a call."""
    size = 32 << 20
    grade_attack("")  # warm: the rubric collected, the checks' memory in use
    attack = f"""
        def conv1d_forward(x, W, stride=1):
            return torch.ones({size - 4096}, dtype=torch.uint8)
    """
    started = time.process_time()
    report, growth = with_peak_rss_growth(lambda: grade_attack(attack))
    cpu = time.process_time() - started
    assert growth <= 8 * size, f"the grade's peak resident size grew {growth >> 20} MiB"
    full_except(report, "1.1c.i")
    failed = [t for t in report.tests if not t.passed]
    assert cpu < len(failed), f"the grade took {cpu:.1f} s of this process's CPU for {len(failed)} failed cases"
    assert f"conv1d_forward() out: expected shape (1, 3), got ({size - 4096},)" in report.question("1.1c.i").output
    assert [[a.function for a in t.answers] for t in failed] == [["conv1d_forward"]] * 4  # still diagnosed


def test_an_array_of_absurd_shape_is_malformed_data(grade_attack):
    report = grade_attack(forging('b\'{"$":"tensor","dtype":"float64","shape":[4611686018427387904,0],"at":0,"n":0}\''))
    full_except(report, "1.3.4")
    assert "the sandbox sent malformed data in initial_loss()" in report.question("1.3.4").output


def test_ints_too_large_for_a_float_are_a_clear_student_error(grade_attack):
    """Over 4,300 digits the sandbox could not encode the reply and died; over 308, the trusted
    check met an OverflowError."""
    report = grade_attack("""
        def initial_loss(num_classes):
            return 10 ** 5000

        def initial_accuracy(num_classes):
            return 10 ** 400
    """)
    full_except(report, "1.3.4")
    output = report.question("1.3.4").output
    assert "initial_loss() returned an int with more than 300 digits" in output, output
    assert "initial_accuracy() returned an int with more than 300 digits" in output, output


def test_errors_and_values_that_are_not_text_are_reported_as_text(grade_attack):
    report = grade_attack("""
        class Unprintable(Exception):
            def __str__(self):
                raise RuntimeError("no")

        def initial_loss(num_classes):
            raise Unprintable()

        def initial_accuracy(num_classes):
            raise ValueError("half a pair: \\ud800")

        def attention_rnn_inf_forward(x, Q, K, V):
            return "\\udfff"
    """)
    full_except(report, "1.3.4", "1.2.3d")
    for question in report.questions:
        question.output.encode("utf-8")  # no lone surrogate reached the feedback
    assert "initial_loss() raised Unprintable: <str() failed>" in report.question("1.3.4").output
    assert "initial_accuracy() raised ValueError: half a pair: \\ud800" in report.question("1.3.4").output
    assert "attention_rnn_inf_forward() returned a string with a lone surrogate" in report.question("1.2.3d").output


def test_a_forged_error_that_describes_nothing_is_malformed_data(grade_attack):
    """{"error": 5}: the trusted side read it as a dict and failed with its own AttributeError."""
    report = grade_attack(FORGE.replace('encode({"ok": "PAYLOAD"})', 'encode({"error": "PAYLOAD"})') + """
def initial_loss(num_classes):
    forge(b"5")
    return 0.0
""")
    full_except(report, "1.3.4")
    assert "the sandbox sent malformed data in initial_loss()" in report.question("1.3.4").output


def test_a_reply_of_a_long_list_of_floats_costs_little_cpu(grade_attack):
    """As many floats as a reply may hold, about 1 MB on the wire, flat or each in a list of its
    own: signing each float as a one-element tensor took seconds of the worker's CPU for each
    failed case."""
    grade_attack("")  # warm: the rubric collected
    attack = """
        def conv1d_forward(x, W, stride=1):
            return [i / 7 for i in range(65_000)]

        def conv1d_jacobian_x(x, W, stride=1):
            return [[i / 7] for i in range(32_000)]
    """
    started = time.process_time()
    report = grade_attack(attack)
    cpu = time.process_time() - started
    full_except(report, "1.1c.i", "1.1c.iii")
    failed = [t for t in report.tests if not t.passed]
    assert cpu < len(failed), f"the grade took {cpu:.1f} s of this process's CPU for {len(failed)} failed cases"
    assert "conv1d_forward() out: expected a tensor, got list [0.0, " in report.question("1.1c.i").output
    assert {a.function for t in failed for a in t.answers} == {"conv1d_forward", "conv1d_jacobian_x"}  # still diagnosed
