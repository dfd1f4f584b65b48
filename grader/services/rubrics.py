"""Which rubric grades: stored versions, named by their hash, never the folder on disk as it is now.

The folder `GRADER_RUBRICS_DIR/<rubric id>` is where authors edit; it becomes a version only when
it is stored (an assignment is created, or a version is published, grader.services.publishing).
Everything that grades or scores reads a stored version (grader.services.rubric_cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import Assignment, Device, RubricVersion
from grader.rubric_archive import pack
from grader.rubric_spec import Rubric, RubricError, load_rubric
from grader.services.errors import Rejected
from grader.services.rubric_cache import VersionNotStored, materialised


def _folder(rubric_id: str) -> Path:
    return get_settings().rubrics_dir / rubric_id


def on_disk(rubric_id: str) -> Rubric:
    """The rubric folder as it is now (RubricError if it is unusable): what publishing would store."""
    return load_rubric(_folder(rubric_id))


@dataclass(frozen=True)
class DiskRubric:
    """The folder on disk: its rubric, or why it cannot be used."""

    rubric: Rubric | None
    error: str

    @property
    def hash(self) -> str | None:
        return self.rubric.content_hash if self.rubric is not None else None


def disk_rubric(rubric_id: str) -> DiskRubric:
    try:
        return DiskRubric(on_disk(rubric_id), "")
    except (RubricError, OSError) as exc:
        return DiskRubric(None, str(exc))


def _insert_once(db: Session, rubric_hash: str, archive: bytes) -> None:
    """Store a version unless it is stored already, also when another transaction stores it at once."""
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.execute(insert(RubricVersion).values(hash=rubric_hash, archive=archive, created_at=utcnow())
               .on_conflict_do_nothing(index_elements=["hash"]))


def store(db: Session, rubric_id: str) -> Rubric:
    """Store the folder on disk as a version (once per hash) and return that version as the
    workers will read it. RubricError (with the folder's paths) if it is unusable."""
    on_disk(rubric_id)  # its errors name the author's files, not the cache's
    rubric_hash, archive = pack(_folder(rubric_id))
    _insert_once(db, rubric_hash, archive)
    return materialised(db, rubric_hash)


def ensure_stored(db: Session, rubric_hash: str, rubric_id: str) -> None:
    """Make sure the version `rubric_hash` of the rubric `rubric_id` is stored.

    A version made before versions were stored is stored now if the folder still holds it
    (its files hash to it); otherwise VersionNotStored says how to go on."""
    if db.scalar(select(RubricVersion.hash).where(RubricVersion.hash == rubric_hash)) is not None:
        return
    disk = disk_rubric(rubric_id)
    if disk.hash != rubric_hash:
        now = f"is now version {disk.hash}" if disk.rubric is not None else f"does not load ({disk.error})"
        raise VersionNotStored(
            f"rubric version {rubric_hash} is not stored, and the folder {rubric_id!r} {now}: "
            f"publish the folder (on the assignment's rubric page, or `grader rubric publish`) and regrade"
        )
    store(db, rubric_id)


def version(db: Session, rubric_hash: str, rubric_id: str) -> Rubric:
    """The stored version `rubric_hash` of the rubric `rubric_id`, read from this machine's cache
    (see `ensure_stored` for a version made before versions were stored)."""
    try:
        return materialised(db, rubric_hash)
    except VersionNotStored:
        ensure_stored(db, rubric_hash, rubric_id)
        return materialised(db, rubric_hash)


def published(db: Session, assignment: Assignment) -> Rubric:
    """The assignment's published version: what its new submissions and regrades are graded with."""
    return version(db, assignment.rubric_hash, assignment.rubric_id)


def lock_published_version(db: Session, assignment: Assignment, exclusive: bool = False) -> None:
    """Read the assignment's published version again and hold it until the transaction ends, so
    that an upload and a publish never overlap: an upload committed after a publish is graded with
    the new version, and one stored before it is among the submissions its regrade selects.

    Uploads hold it together; a publish (`exclusive`) holds it alone. PostgreSQL locks the row
    (FOR SHARE, FOR UPDATE). SQLite has no row locks and one writer at a time: an UPDATE that
    changes nothing takes its write lock, which no other transaction gets until this one ends.
    """
    if db.get_bind().dialect.name == "sqlite":
        db.execute(update(Assignment).where(Assignment.id == assignment.id)
                   .values(rubric_hash=Assignment.rubric_hash).execution_options(synchronize_session=False))
    db.refresh(assignment, with_for_update={"read": not exclusive})


def publish_from_disk(db: Session, assignment: Assignment) -> Rubric:
    """Make the folder on disk the assignment's published version (stored, not committed)."""
    rubric = store(db, assignment.rubric_id)
    assignment.rubric_hash = rubric.content_hash
    assignment.device = Device(rubric.device)
    db.flush()
    return rubric


def require_published(db: Session, assignment: Assignment) -> Rubric:
    """`published`, for scores and grading by hand: a version that cannot be read is a 409 that says why."""
    try:
        return published(db, assignment)
    except RubricError as exc:
        raise Rejected(409, f"{assignment.slug}: {exc}") from exc
