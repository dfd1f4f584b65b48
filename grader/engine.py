"""Grade one submission: the trusted rubric run against the student's module in a sandbox.

Data path inside a worker: source -> `SubmissionSandbox` (student code, isolated) <- rubric
tests via the `student` proxy (trusted) -> outcomes -> `build_report` (trusted scores).
"""

from __future__ import annotations

import logging
import subprocess
import time
from dataclasses import replace

import torch

from grader.config import Settings, get_settings
from grader.errors import GradingAborted, SandboxUnavailable, StudentFault
from grader.rubric.runner import run_rubric
from grader.rubric_spec import Limits, Rubric
from grader.sandbox.call_plan import CallPlan
from grader.sandbox.channel import ImportFailed, Sandbox, SandboxSpec
from grader.sandbox.forkserver import ForkServer
from grader.sandbox.proxy import StudentModule, SubmissionSandbox
from grader.sandbox.scratch import Quota, ScratchArea
from grader.scoring import GradeReport, TestOutcome, build_report
from grader.submission import SubmissionError, prepare

log = logging.getLogger(__name__)

REQUIRED_LAYERS = ("network", "cgroup", "ipc", "uid", "landlock", "seccomp", "scratch")
KEPT_CALL_PLANS = 4  # rubric versions whose calls are remembered (a worker grades few at a time)


def resolve_device(wanted: str) -> str:
    """`auto` means CUDA where this process sees a GPU."""
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return wanted


class Engine:
    """Long-lived: keeps a warm fork server across submissions (one per worker process).

    Starting one removes the sandbox directories of engines whose process is gone and checks
    that the sandbox uid can use its directories (`fault` says why not; it is logged as an error,
    and grading is refused until the machine is fixed)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._scratch: ScratchArea | None = None
        self.fault = self._open_scratch()
        self._server: ForkServer | None = None
        self._spare: Sandbox | None = None
        self._plans: dict[str, CallPlan] = {}
        # The trusted side's checks are small: one thread each, so workers (one per core) and
        # their sandboxes don't oversubscribe the cores (a parallel op waits for its descheduled threads).
        torch.set_num_threads(1)

    def _open_scratch(self) -> str:
        """Make this engine's scratch area if it has none; why the sandbox uid can't use it ("" if it can)."""
        settings = self.settings
        try:
            if self._scratch is None:
                quota = Quota(settings.sandbox_scratch_mb, settings.sandbox_scratch_files)
                self._scratch = ScratchArea(settings.sandbox_root, quota)
            problem = self._scratch.unreachable_by(settings.sandbox_uid, settings.sandbox_gid)
        except (OSError, subprocess.SubprocessError) as exc:
            problem = f"the sandbox root {settings.sandbox_root} is unusable: {exc}"
        if problem:
            problem += " (check GRADER_SANDBOX_ROOT and the permissions of the directories above it)"
            log.error("sandboxes cannot run: %s", problem)
        return problem

    def _scratch_area(self) -> ScratchArea:
        if self._scratch is not None and not self._scratch.directory.is_dir():  # removed (a /tmp cleaner)
            self._scratch.close()
            self._scratch = None
        if self._scratch is None or self.fault:  # checked again: the machine may have been fixed
            self.fault = self._open_scratch()
        if self.fault or self._scratch is None:
            raise SandboxUnavailable(f"refusing to grade: {self.fault}")
        return self._scratch

    def _fork_server(self) -> ForkServer:
        if self._server is None or not self._server.alive():
            if self._server is not None:
                self._server.close()
            self._server = ForkServer(self.settings.sandbox_template)
        return self._server

    def _sandbox(self, source: str, module: str, limits: Limits, device: str,
                 plan: CallPlan | None = None, *, vet: bool = True) -> SubmissionSandbox:
        spec = SandboxSpec(module, limits, device, self._scratch_area(), self.settings.sandbox_uid,
                           self.settings.sandbox_gid, self.settings.sandbox_threads)
        return SubmissionSandbox(source, limits, lambda: self._take_sandbox(spec, vet), plan)

    def _take_sandbox(self, spec: SandboxSpec, vet: bool) -> Sandbox:
        """A fresh sandbox: the spare if it was made for this spec, and a new spare starts
        isolating at once, so the next submission doesn't wait for a fork and a cgroup. With
        `vet`, one that lacks a required layer is refused before it is given the submission."""
        server = self._fork_server()
        spare, self._spare = self._spare, None
        if spare is not None and (spare.spec != spec or spare.server is not server):
            spare.close()
            spare = None
        sandbox = spare or Sandbox(server, spec)
        self._spare = Sandbox(server, spec)
        if vet and self.settings.require_isolation:
            self._refuse_unisolated(sandbox)
        return sandbox

    def _refuse_unisolated(self, sandbox: Sandbox) -> None:
        """GradingAborted if the sandbox lacks a layer, decided before it runs any student code:
        without the layer, the code could reach what the layer guards, whatever its score."""
        try:
            layers = sandbox.isolation()
        except StudentFault:
            return  # it is dead, and loading it will say why; no student code ran in it
        missing = self._missing_layers(layers)
        if missing:
            sandbox.close()
            raise GradingAborted("refusing to grade: isolation layers missing: " + "; ".join(missing))

    def _call_plan(self, rubric: Rubric) -> CallPlan:
        """What this worker has learned of the calls of this rubric version."""
        plan = self._plans.get(rubric.content_hash)
        if plan is None:
            if len(self._plans) >= KEPT_CALL_PLANS:
                del self._plans[next(iter(self._plans))]
            plan = self._plans[rubric.content_hash] = CallPlan()
        return plan

    def probe_layers(self, device: str = "cpu") -> dict[str, str]:
        """Start one empty sandbox and report which isolation layers it got."""
        sandbox = self._sandbox("", "probe", Limits(), resolve_device(device), vet=False)
        try:
            sandbox.start()
        except ImportFailed:
            pass  # its layers say why (a sandbox that cannot read its own file)
        finally:
            sandbox.close()
        return self.layers(sandbox.layers)

    def layers(self, sandbox_layers: dict[str, str]) -> dict[str, str]:
        """A sandbox's own report with the layers the engine provides (its scratch space)."""
        scratch = self._scratch.layer if self._scratch is not None else "off: no scratch area"
        return {**sandbox_layers, "scratch": scratch}

    def grade(self, data: bytes, filename: str, rubric: Rubric, device: str | None = None) -> GradeReport:
        """Every auto question scored; student failures are feedback, never exceptions. When it
        returns, nothing of the submission is left running."""
        with self.start(data, filename, rubric, device) as grading:
            return grading.report()

    def start(self, data: bytes, filename: str, rubric: Rubric, device: str | None = None) -> StartedGrading:
        """Start grading: the submission is handed to a sandbox to import, with the calls the rubric
        is known to make, while the caller does other work (claiming it in the database)."""
        started = time.perf_counter()
        device = resolve_device(device or rubric.device)
        try:
            prepared = prepare(filename, data)
        except SubmissionError as exc:
            return StartedGrading(self, rubric, device, started, None, str(exc))
        sandbox = self._sandbox(prepared.source, rubric.module, rubric.limits, device, self._call_plan(rubric))
        try:
            sandbox.begin()
        except BaseException:
            sandbox.close()
            raise
        return StartedGrading(self, rubric, device, started, sandbox, left_out=prepared.left_out)

    def check_layers(self, layers: dict[str, str]) -> list[str]:
        """The isolation layers a sandbox lacked, for the report's warnings (where they are
        required, such a sandbox was refused before it was given the submission).

        SandboxUnavailable if the sandbox could not read its own file: every import failed
        because of the machine, so no score may come of it."""
        if not layers:
            return []  # no sandbox started (the module failed to import or no call was made)
        workdir = layers.get("workdir", "off: not reported")
        if not workdir.startswith("on"):
            raise SandboxUnavailable(f"refusing to grade: the sandbox could not read its own file ({workdir}); "
                                     "check GRADER_SANDBOX_ROOT and the permissions of the directories above it")
        missing = self._missing_layers(layers)
        for line in missing:
            log.warning("sandbox layer missing: %s", line)
        return missing

    def _missing_layers(self, sandbox_layers: dict[str, str]) -> list[str]:
        layers = self.layers(sandbox_layers)
        return [f"{name} {layers.get(name, 'off: not reported')}" for name in REQUIRED_LAYERS
                if not layers.get(name, "").startswith("on")]

    def close(self) -> None:
        if self._spare is not None:
            self._spare.close()
            self._spare = None
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _explained(outcome: TestOutcome, left_out: str) -> TestOutcome:
    """A failure for a function the module does not define, with why notebook cells were left out
    of the module (`left_out`, when some were): the function may be in one of them."""
    if not left_out or outcome.passed or " does not define " not in outcome.message:
        return outcome
    return replace(outcome, message=f"{outcome.message} ({left_out})")


class StartedGrading:
    """One submission being graded (`Engine.start`): `report` runs the rubric and kills the
    sandbox; `close` waits until the kernel has torn it down, so a caller can store the report
    meanwhile. Used as a context manager, nothing of the submission outlives the block."""

    def __init__(self, engine: Engine, rubric: Rubric, device: str, started: float,
                 sandbox: SubmissionSandbox | None, unusable: str = "", left_out: str = "") -> None:
        self.engine, self.rubric, self.device, self.started = engine, rubric, device, started
        self.sandbox, self.unusable, self.left_out = sandbox, unusable, left_out

    def report(self) -> GradeReport:
        if self.sandbox is None:  # the upload could not be read as a submission
            outcomes = [TestOutcome("submission", q.id, False, self.unusable) for q in self.rubric.auto_questions]
            return build_report(self.rubric, outcomes, self.device, time.perf_counter() - self.started,
                                output=self.unusable)
        sandbox = self.sandbox
        try:
            outcomes = [_explained(outcome, self.left_out) for outcome in
                        run_rubric(self.rubric, lambda: StudentModule(sandbox), on_test=sandbox.begin_test)]
            sandbox.plan.learn(sandbox.made)
            warnings = self.engine.check_layers(sandbox.layers)
        finally:
            sandbox.stop()
        output = "" if not warnings else "Isolation warnings: " + "; ".join(warnings)
        printed = sandbox.printed()
        by_question = {qid: text for qid, text in printed.items() if qid is not None}
        return build_report(self.rubric, outcomes, self.device, time.perf_counter() - self.started,
                            output=output, student_output=printed.get(None, ""), printed=by_question,
                            warnings=warnings)

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()

    def __enter__(self) -> StartedGrading:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
