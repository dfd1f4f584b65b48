"""Text from elsewhere (a submission, a server) as a terminal may show it, and the one way every
command (grading, operators', students') says it failed."""

from __future__ import annotations

import re
from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

# Control characters (all but tab and newline: escape sequences, carriage returns, bells) and
# lone surrogates, which no terminal encoding can write.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def shown(text: str) -> Text:
    """`text` never read as Rich markup, and each unshowable character written as its Python
    escape (`\\x1b`), so it can't drive the terminal."""
    return Text(_UNSHOWABLE.sub(lambda match: ascii(match.group())[1:-1], text))


_errors = Console(stderr=True)


def fail(message: str, status: int = 2) -> NoReturn:
    """`error: message` on stderr, on one line (for grep) and shown as text, then exit `status`: 2
    for what was refused, 1 for work that was done and failed."""
    _errors.print(Text.assemble(("error:", "red"), " ", shown(message)), soft_wrap=True)
    raise typer.Exit(status)
