"""Settings from GRADER_* environment variables, with defaults that work on a laptop."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything configurable; one instance per process (see `get_settings`)."""

    model_config = SettingsConfigDict(env_prefix="GRADER_", env_file=".env", env_ignore_empty=True, extra="ignore")

    environment: str = Field("development", description="development or production")
    rubrics_dir: Path = PROJECT_ROOT / "rubrics"
    data_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    broker_url: str = ""
    secret_key: str = "dev-only-secret-change-me"

    # Sandbox
    sandbox_root: Path = Path("/tmp/grader-sandboxes")
    sandbox_uid: int = 65534
    sandbox_gid: int = 65534
    sandbox_threads: int = 1
    require_isolation: bool = Field(False, description="refuse to grade when an isolation layer is missing")

    # Uploads
    max_upload_bytes: int = 1_000_000

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'grader.db'}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.data_dir / 'broker.db'}"

    @property
    def production(self) -> bool:
        return self.environment == "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
