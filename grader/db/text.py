"""Text the database can store, whatever a submission printed or raised.

PostgreSQL refuses a NUL character in text, and a lone surrogate (which JSON can carry into a
Python string) cannot be encoded as UTF-8, which SQLite and every page showing it need. Either
made a whole result unstorable, so every piece of student-derived text goes through `storable`.
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # in a str, any surrogate code point is a lone one
REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    """`text` with each NUL and lone surrogate replaced by U+FFFD, everything else kept."""
    return _UNSTORABLE.sub(REPLACEMENT, text)
