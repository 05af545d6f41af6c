"""The three renderings of an evidence pack, each sealed with its digest (package docstring)."""

from __future__ import annotations

import hashlib
from typing import Any

import jinja2
import markupsafe
import orjson

from gatekeeper.reports.evidence_pack import templates
from gatekeeper.reports.evidence_pack.view import header, sections

FORMATS = ("md", "html", "json")
_ENV = {
    # Markdown is text: nothing to escape but table cells (the `cell` filter).
    "md": jinja2.Environment(autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined),
    "html": jinja2.Environment(autoescape=True, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                               undefined=jinja2.StrictUndefined),
}


def _md_row(cells: list[str]) -> str:
    """One Markdown table row; a cell's | and line breaks would end it early (one call per
    row: a Jinja filter per cell is most of the time of a 10,000-decision pack)."""
    return "| " + " | ".join(c.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _html_row(cells: list[str]) -> markupsafe.Markup:
    """One HTML table row's cells, escaped (one call per row, as _md_row)."""
    return markupsafe.Markup("".join(f"<td>{markupsafe.escape(cell)}</td>" for cell in cells))


_ENV["md"].filters["row"] = _md_row
_ENV["html"].filters["row"] = _html_row


def render(pack: dict[str, Any], fmt: str) -> bytes:
    """The pack in FMT (md, html, json), its digest line last (json: last but one)."""
    if fmt == "json":
        # orjson: the stdlib's indenting encoder is pure Python, 20x slower on a 10,000-decision pack
        body = orjson.dumps(pack, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        head = body[: body.rindex(b"\n}")] + b",\n"
        return head + f'  "sha256": "{_hex(head)}"\n}}\n'.encode()
    template = _ENV[fmt].from_string(templates.MARKDOWN if fmt == "md" else templates.HTML)
    text = template.render(title=f"Evidence pack: {pack['model']['name']}@{pack['model']['version']}",
                           header=header(pack), sections=sections(pack))
    body = text.encode()
    line = (f"sha256 of this pack (every byte above this line): {_hex(body)}\n" if fmt == "md"
            else f"<!-- sha256 of this pack (every byte above this line): {_hex(body)} -->\n")
    return body + line.encode()


def _hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
