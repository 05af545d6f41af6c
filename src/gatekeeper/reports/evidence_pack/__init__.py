"""Render a model's evidence pack (pipeline.evidence_pack's document) as Markdown, HTML or JSON.

Each format ends with the pack's own SHA-256 digest, over every byte before the line that
holds it: Markdown and HTML on their last line (`head -n -1 PACK | sha256sum`), JSON in its
last member, on its last line but one (`head -n -2 pack.json | sha256sum`).
"""

from __future__ import annotations

from gatekeeper.reports.evidence_pack.render import FORMATS, render

__all__ = ["FORMATS", "render"]
