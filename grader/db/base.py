"""One declarative base: a constraint naming convention and UTC timestamps on every database.

Named constraints let the same Alembic migrations run on PostgreSQL and SQLite (SQLite's batch
mode rebuilds tables and needs names to find constraints). SQLite stores no time zone, so every
timestamp is written as UTC and read back as an aware UTC datetime.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import DateTime, Dialect, Enum, MetaData, Table
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Every id column is a 32-bit INTEGER on PostgreSQL: a larger number names nothing there, and the
# database would answer it with an error, not with an empty result (SQLite fails past 2**63).
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware one (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Enums are stored as short strings with a CHECK constraint (no native PostgreSQL types to migrate)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        enum.Enum: Enum(enum.Enum, native_enum=False, create_constraint=True, length=16),
    }
    if TYPE_CHECKING:
        # Every model maps one Table; the services update and insert through it (Core statements,
        # no ORM synchronisation), which DeclarativeBase types as any FromClause.
        __table__: ClassVar[Table]
