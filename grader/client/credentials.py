"""Where `grader login` keeps the server and its API token: a file in the user's configuration
directory (platformdirs: $XDG_CONFIG_HOME/grader on Linux) that only its owner may read.

A token file others can read is refused, not used: whoever read it can act as the student.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from grader.client.errors import ClientError

FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class Credentials:
    server: str  # the base URL, e.g. https://grader.example.edu
    email: str
    token: str
    token_id: int
    expires_at: str  # ISO 8601, as the server sent it


def credentials_path() -> Path:
    return platformdirs.user_config_path("grader") / FILE_NAME


def _private_directory(directory: Path) -> None:
    """Create `directory` for this user only, or make an existing one of theirs so."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    if info.st_uid != os.getuid():
        raise ClientError(f"{directory} belongs to another user: the API token can't be kept there")
    if stat.S_IMODE(info.st_mode) != 0o700:
        directory.chmod(0o700)


def save(credentials: Credentials) -> Path:
    """Write the file anew (mode 0600 from its creation, then renamed over the old one)."""
    path = credentials_path()
    _private_directory(path.parent)
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # also when a file of that name was left behind
        with os.fdopen(descriptor, "w") as file:
            json.dump(asdict(credentials), file, indent=2)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def load() -> Credentials:
    """The saved credentials; a ClientError when there are none, or they are unsafe or unreadable."""
    path = credentials_path()
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ClientError("not logged in: run `grader login --server URL` first") from None
    except OSError as exc:
        raise ClientError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(descriptor) as file:
        info = os.fstat(file.fileno())
        if info.st_uid != os.getuid():
            raise ClientError(f"{path} belongs to another user: log in again with `grader login`")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise ClientError(
                f"{path} can be read by other users (mode {mode:o}), so its API token may not be secret any "
                "more: log in again with `grader login`, which writes a private one"
            )
        try:
            return Credentials(**json.load(file))
        except (ValueError, TypeError):
            raise ClientError(f"{path} is damaged: log in again with `grader login`") from None
