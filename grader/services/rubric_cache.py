"""Stored rubric versions written out as folders, one per hash, for the engine and the pages to read.

`<GRADER_RUBRIC_CACHE_DIR>/<hash>` appears whole or not at all: a version is unpacked into a
temporary folder beside it, made read-only and renamed into place, so a process never sees a
half-written version, and two processes that write the same one at once both end up reading one.
A folder is read only after its files hash to its name; one that does not (changed by hand) is
written again from the database.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.models import RubricVersion
from grader.rubric_archive import unpack, write_files
from grader.rubric_spec import Rubric, RubricError, load_rubric


class VersionNotStored(RubricError):
    """The database holds no rubric version under this hash."""


_loaded: dict[Path, Rubric] = {}  # folder -> its rubric, checked against its hash once per process
_lock = threading.Lock()


def _read_only(folder: Path) -> None:
    for path in folder.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    folder.chmod(0o555)


def _remove(folder: Path) -> None:
    """Delete a (read-only) version folder or a temporary one."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


def _checked(folder: Path, rubric_hash: str) -> Rubric | None:
    """The rubric in `folder` if its files are the version `rubric_hash`; None if they are not."""
    try:
        rubric = load_rubric(folder)
    except RubricError:
        return None
    return rubric if rubric.content_hash == rubric_hash else None


def _write(archive: bytes, root: Path, rubric_hash: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)  # rubric files are secret: the reference, the hidden tests
    temporary = root / f".{rubric_hash}-{uuid.uuid4().hex}"
    temporary.mkdir()
    try:
        write_files(unpack(archive), temporary)
        _read_only(temporary)
        os.rename(temporary, root / rubric_hash)
    except OSError:
        if not (root / rubric_hash).is_dir():  # another process put the same version there first
            raise
    finally:
        _remove(temporary)


def materialised(db: Session, rubric_hash: str) -> Rubric:
    """The stored rubric version `rubric_hash`, loaded from its folder (written out on first use).

    VersionNotStored if the database has no such version; RubricError if it does not load."""
    root = get_settings().resolved_rubric_cache_dir
    folder = root / rubric_hash
    with _lock:
        known = _loaded.get(folder)
    if known is not None and folder.is_dir():
        return known
    rubric = _checked(folder, rubric_hash) if folder.is_dir() else None
    if rubric is None:
        archive = db.scalar(select(RubricVersion.archive).where(RubricVersion.hash == rubric_hash))
        if archive is None:
            raise VersionNotStored(f"rubric version {rubric_hash} is not stored")
        if folder.is_dir():  # its files were changed: move them out of the way, then write the version again
            aside = root / f".{rubric_hash}-changed-{uuid.uuid4().hex}"
            os.rename(folder, aside)
            _remove(aside)
        _write(archive, root, rubric_hash)
        rubric = load_rubric(folder)
        if rubric.content_hash != rubric_hash:
            raise RubricError(f"the stored rubric version {rubric_hash} hashes to {rubric.content_hash}")
    with _lock:
        _loaded[folder] = rubric
    return rubric
