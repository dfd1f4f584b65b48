"""Settings from GRADER_* environment variables, with defaults that work on a laptop."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-secret-change-me"


class Settings(BaseSettings):
    """Everything configurable; one instance per process (see `get_settings`)."""

    model_config = SettingsConfigDict(env_prefix="GRADER_", env_file=".env", env_ignore_empty=True, extra="ignore")

    # Only these two: a misspelt "production" must not quietly run with the public development secret.
    environment: Literal["development", "production"] = Field("development", description="development or production")
    rubrics_dir: Path = PROJECT_ROOT / "rubrics"
    rubric_cache_dir: Path | None = Field(
        None, description="where stored rubric versions are written out to be read (default: data_dir/rubric-versions)"
    )
    data_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    broker_url: str = ""
    secret_key: str = DEV_SECRET

    # Sandbox
    sandbox_root: Path = Path("/tmp/grader-sandboxes")
    # A uid or gid of -1 would leave them unchanged (root) at the uid switch.
    sandbox_uid: int = Field(65534, ge=0)
    sandbox_gid: int = Field(65534, ge=0)
    sandbox_threads: int = Field(1, ge=1)
    sandbox_scratch_mb: int = Field(128, ge=1, description="what one sandbox may write: megabytes (its own tmpfs)")
    sandbox_scratch_files: int = Field(4096, ge=1, description="what one sandbox may write: files and directories")
    require_isolation: bool = Field(False, description="refuse to grade when an isolation layer is missing")
    sandbox_template: Path | None = Field(
        None, description="socket of a fork-server template (python -m grader.sandbox.template PATH) that forks "
                          "each engine's fork server with torch already imported; unset: each engine starts its own",
    )

    # Uploads
    max_upload_bytes: int = Field(1_000_000, ge=1)

    # `make run` (grader.devserver)
    port: int = Field(8000, ge=1, le=65535, description="the port `make run` serves on (its --port wins)")

    # The first admin of a new deployment, created by `grader db upgrade` while there is no admin
    admin_email: str = Field("", description="that admin's email; empty: create none")
    admin_password: SecretStr = Field(SecretStr(""), description="that admin's password for the pages (optional)")

    # Accounts: API tokens, and password logins throttled per account and per client address
    token_ttl_days: int = Field(90, ge=1, description="lifetime of a new API token; the API grants none longer")
    login_attempts_per_account: int = Field(10, ge=1, description="login attempts an account gets per window")
    login_attempts_per_address: int = Field(50, ge=1, description="login attempts a client address gets per window")
    login_window_s: int = Field(900, ge=1, description="seconds until a throttled account or address may try again")
    password_hash_threads: int = Field(2, ge=1, description="threads that check passwords; other requests keep theirs")

    # Invitations: one-time links that let an account without a password (a roster import's) set one
    public_url: str = Field("http://127.0.0.1:8000", description="the address students reach the pages at, "
                            "which invitation links start with")
    invite_ttl_days: int = Field(14, ge=1, le=365, description="days an invitation link works, unless used or replaced")

    # Queue and workers
    broker_key_prefix: str = Field(
        "", description="prefix of every broker key on Redis, so deployments can share one (ignored elsewhere)"
    )
    worker_concurrency: int | None = Field(
        None, ge=1, description="grading processes of a cpu worker; unset: one per core, plus one"
    )
    gpu_workers: bool | None = Field(None, description="whether a worker takes the gpu queue; unset: ask the workers")
    gpu_fallback_to_cpu: bool = Field(True, description="rubrics with device auto go to cpu when no GPU worker runs")
    # The durations are finite: they go into time arithmetic, which overflows on an infinite one.
    run_lease_s: float = Field(
        30.0, gt=0, allow_inf_nan=False, description="an attempt whose heartbeat is older than this is presumed lost"
    )
    grading_attempts: int = Field(
        2, ge=1, description="attempts a grade request (or a similarity run) gets when they die or time out"
    )
    grading_give_backs: int = Field(
        5, ge=1, description="times a grade request's claim is given back after a machine fault (retried, no "
        "attempt spent); the fault after that ends it failed"
    )
    hard_limit_grace_s: float = Field(
        60.0, gt=0, allow_inf_nan=False, description="added to the rubric's submission_timeout_s: the task's hard limit"
    )
    reconcile_after_s: float = Field(
        600.0, gt=0, allow_inf_nan=False, description="queued or running this long without progress: enqueue again"
    )
    reconcile_interval_s: float = Field(
        60.0, gt=0, allow_inf_nan=False, description="how often the beat scheduler runs the reconciler"
    )
    reconcile_sends: int = Field(
        12, ge=1, description="times the reconciler sends work that no worker claims before it fails it"
    )

    @model_validator(mode="after")
    def _production_is_safe(self) -> Settings:
        """Production must not run on the laptop defaults: a known secret or missing isolation."""
        if self.production:
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
                raise ValueError("GRADER_SECRET_KEY must be set to a random value of 32+ characters in production")
            if not self.require_isolation:
                raise ValueError("GRADER_REQUIRE_ISOLATION must be true in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'grader.db'}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.data_dir / 'broker.db'}"

    @property
    def resolved_worker_concurrency(self) -> int:
        """One grading process more than there are cores: a process whose student code waits out a
        time limit (or whose sandbox and trusted side wait on each other) leaves its core to the spare."""
        if self.worker_concurrency is not None:
            return self.worker_concurrency
        return len(os.sched_getaffinity(0)) + 1

    @property
    def resolved_rubric_cache_dir(self) -> Path:
        return self.rubric_cache_dir or self.data_dir / "rubric-versions"

    @property
    def production(self) -> bool:
        return self.environment == "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
