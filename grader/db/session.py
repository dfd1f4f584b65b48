"""Engines and sessions for the configured database, and migrating it to the newest schema.

A session here is only opened and closed (rolled back if its block raises): whoever opens it
owns its transaction and commits (grader.services never do; see there).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from grader.config import PROJECT_ROOT, get_settings

if TYPE_CHECKING:  # Alembic is imported where a process migrates: every process opens sessions, few migrate
    from alembic.config import Config

SQLITE_BUSY_TIMEOUT_S = 30


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the web process read while a worker writes; SQLite enforces foreign keys only when asked."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _commit_without_waiting_for_disk(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET synchronous_commit TO OFF")
    cursor.close()
    dbapi_connection.commit()


def make_engine(url: str, grading: bool = False) -> Engine:
    """An engine for `url`; a SQLite file gets its folder created and the pragmas above.

    `grading` (PostgreSQL): for a process that grades, see `become_grading_worker`.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A web request pings its connection first (one after a database restart would fail);
        # a grading task that meets a dead connection is retried instead, a round trip saved twice a grade.
        engine = create_engine(url, pool_pre_ping=not grading)
        if grading:
            event.listen(engine, "connect", _commit_without_waiting_for_disk)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """One shared engine (and connection pool) per database URL in this process."""
    with _engines_lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def become_grading_worker(url: str) -> None:
    """Connections for a process that grades (a Celery pool process, just forked).

    The parent's connections are dropped, never reused. On PostgreSQL, connections are not pinged
    before use, and commits return before the WAL reaches the disk (two waits in every grade): a
    crash of the database can then forget the last few hundred milliseconds of claims and
    results, and the submissions they were about, left `running`, are sent again by the
    reconciler: graded twice at worst, never lost. Uploads are committed by the web process,
    whose commits still wait for the disk.
    """
    with _engines_lock:
        if url in _engines:
            _engines.pop(url).dispose(close=False)
        _engines[url] = make_engine(url, grading=True)


def session_factory() -> sessionmaker[Session]:
    """Sessions on the database the current settings name; objects stay readable after commit."""
    return sessionmaker(engine_for(get_settings().resolved_database_url), expire_on_commit=False)


def SessionLocal() -> Session:
    """A new session; the capitalised name is the one the service contract gives it."""
    return session_factory()()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that is rolled back if the block raises and closed in any case."""
    session = SessionLocal()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    """Alembic pointed at migrations/ and `url`, without reading alembic.ini or configuring logging."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_schema(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade_schema(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)
