"""Any text can be made storable: PostgreSQL refuses NUL, UTF-8 (and so SQLite) a lone surrogate."""

from __future__ import annotations

from grader.db.text import storable


def test_storable_replaces_nul_and_lone_surrogates_only() -> None:
    assert storable("a\x00b\ud800c\udfffd") == "a\ufffdb\ufffdc\ufffdd"
    kept = "caf\u00e9 \U0001f600 \ufffd \t\n"
    assert storable(kept) == kept
