"""A rubric version as one deterministic archive: the same files always give the same bytes.

The archive holds exactly the files its hash covers (`rubric_spec.rubric_files`), so a version
stored under its hash can be written out again on any machine and proven to be that version.
Timestamps, owners and modes are fixed; names are sorted.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path, PurePosixPath

from grader.rubric_spec import RubricError, files_hash, rubric_files


def pack_files(files: dict[str, bytes]) -> bytes:
    """A tar of `files` (path inside the folder -> content) whose bytes depend on nothing else."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


def pack(directory: Path) -> tuple[str, bytes]:
    """The folder's version: its hash and its archive, both from one reading of its files."""
    files = rubric_files(directory)
    return files_hash(files), pack_files(files)


def unpack(archive: bytes) -> dict[str, bytes]:
    """The files of an archive; anything but a regular file at a plain relative path is refused,
    so no archive can write outside the folder it is unpacked into."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for member in tar.getmembers():
            path = PurePosixPath(member.name)
            if not member.isreg() or path.is_absolute() or ".." in path.parts or not path.parts:
                raise RubricError(f"a rubric archive holds {member.name!r}, which is not a file inside the rubric")
            content = tar.extractfile(member)
            if content is None:
                raise RubricError(f"a rubric archive's {member.name!r} cannot be read")
            files[path.as_posix()] = content.read()
    return files


def write_files(files: dict[str, bytes], directory: Path) -> None:
    """Write `files` (from `unpack`) under `directory`, which must exist."""
    for name, content in files.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
