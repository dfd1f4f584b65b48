"""Markdown from a student's notebook as safe HTML: CommonMark (with tables) and no raw HTML.

Raw HTML is escaped, links to javascript:, vbscript:, file: and data: are left as text (the
parser's own check), links open nothing of ours (rel noopener, noreferrer, nofollow), and an
image is shown only from the cell's own attachments, as a data: URI checked to be an image
(grader.services.code_view): a notebook cannot make the page load anything from elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markupsafe import Markup

ATTACHMENT = "attachment:"
LINK_REL = "nofollow noopener noreferrer"


def _image(renderer: RendererHTML, tokens: Sequence[Token], index: int, options: Any, env: Any) -> str:
    token = tokens[index]
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    source = str(token.attrGet("src") or "")
    attachments: Mapping[str, str] = env.get("attachments", {})
    image = attachments.get(source.removeprefix(ATTACHMENT)) if source.startswith(ATTACHMENT) else None
    if image is None:
        return f'<span class="missing-image">[image: {escapeHtml(alt)}]</span>'
    return f'<img src="{escapeHtml(image)}" alt="{escapeHtml(alt)}">'


def _link_open(renderer: RendererHTML, tokens: Sequence[Token], index: int, options: Any, env: Any) -> str:
    tokens[index].attrSet("rel", LINK_REL)
    return renderer.renderToken(tokens, index, options, env)


_parser = MarkdownIt("commonmark", {"html": False}).enable("table")
_parser.add_render_rule("image", _image)
_parser.add_render_rule("link_open", _link_open)


def render_markdown(text: str, attachments: Mapping[str, str] | None = None) -> Markup:
    """`attachments`: the cell's images by name, as data: URIs (`![diagram](attachment:d.png)`)."""
    return Markup(_parser.render(text, {"attachments": dict(attachments or {})}))
