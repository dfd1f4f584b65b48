"""docker-compose.yml wires the production stack (no Docker engine here: checked as YAML)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def _queues(command: list[str]) -> str:
    return command[command.index("-Q") + 1]


def test_names_every_service(services: dict) -> None:
    assert {"postgres", "redis", "migrate", "api", "worker-gpu", "worker-cpu"} <= set(services)


def test_gpu_worker_reserves_an_nvidia_device_and_takes_only_the_gpu_queue(services: dict) -> None:
    worker = services["worker-gpu"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert worker["command"][:4] == ["celery", "-A", "workers.app", "worker"]
    assert _queues(worker["command"]) == "gpu"


def test_cpu_worker_takes_only_the_cpu_queue_without_a_gpu(services: dict) -> None:
    worker = services["worker-cpu"]
    assert _queues(worker["command"]) == "cpu"
    assert "deploy" not in worker


def test_exactly_one_service_runs_the_reconcilers_beat(services: dict) -> None:
    assert [name for name, s in services.items() if "--beat" in (s.get("command") or [])] == ["worker-cpu"]


def test_app_services_wait_for_the_migration_and_use_postgres_and_redis(services: dict) -> None:
    for name in ("api", "worker-gpu", "worker-cpu"):
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["environment"]["GRADER_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert service["environment"]["GRADER_BROKER_URL"].startswith("redis://")
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_only_the_migrate_job_gets_the_first_admins_password(services: dict) -> None:
    migrate = services["migrate"]["environment"]
    assert migrate["GRADER_ADMIN_EMAIL"] == "${GRADER_ADMIN_EMAIL:-}"
    assert migrate["GRADER_ADMIN_PASSWORD"] == "${GRADER_ADMIN_PASSWORD:-}"
    assert migrate["GRADER_ENVIRONMENT"] == "production" and migrate["GRADER_DATABASE_URL"].startswith("postgresql")
    assert services["migrate"]["command"] == ["grader", "db", "upgrade"]
    for name in ("api", "worker-gpu", "worker-cpu"):
        assert "GRADER_ADMIN_PASSWORD" not in services[name]["environment"]


def test_dockerfile_uses_python_311_slim_and_pins_torch() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "torch==2.13.0" in dockerfile
