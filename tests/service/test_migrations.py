"""The same migrations build the schema on PostgreSQL and SQLite, undo it, and match the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from grader.db.base import Base
from grader.db.session import alembic_config, make_engine


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    finally:
        engine.dispose()


def test_upgrade_from_empty_matches_the_models_and_downgrades_to_nothing(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "head")
    assert _tables(empty_database) == set(Base.metadata.tables) | {"alembic_version"}
    assert _differences(empty_database) == []

    command.downgrade(config, "base")
    assert _tables(empty_database) == {"alembic_version"}

    command.upgrade(config, "head")  # and back up again
    assert _differences(empty_database) == []


def test_migrations_form_one_line_of_revisions() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1
    for revision in scripts.walk_revisions():
        assert revision.doc, f"{revision.revision} needs a docstring title"
