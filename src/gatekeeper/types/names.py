"""Model names, versions and aliases are plain names (README "Which workloads, which model, which artifact"): one check every
evidence source and every front door uses, so `models:/../3` never becomes a path."""

from __future__ import annotations

import re

MAX_LENGTH = 200
# Control characters (C0, DEL, C1) and path separators of either platform.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]")


class NotAPlainName(ValueError):
    """A model name, version or alias that could be read as a path or is not printable."""


def plain_name_problem(value: str | None, what: str) -> str | None:
    """Why `value` is not a plain name, or None when it is."""
    if value is None or value == "":
        return f"the model {what} is empty"
    if value in (".", ".."):
        return f"the model {what} '{value}' is not a plain name"
    if len(value) > MAX_LENGTH:
        return f"the model {what} is {len(value)} characters long (at most {MAX_LENGTH})"
    bad = _FORBIDDEN.search(value)
    if bad:
        return f"the model {what} {value!r} contains {bad.group(0)!r} (no path separators or control characters)"
    if value != value.strip():
        return f"the model {what} {value!r} starts or ends with white space"
    return None


def check_plain_name(value: str | None, what: str) -> str:
    problem = plain_name_problem(value, what)
    if problem:
        raise NotAPlainName(problem)
    return value  # type: ignore[return-value]


def model_ref_problem(name: str | None, version: str | None, alias: str | None) -> str | None:
    """The first of name, version and alias (when given) that is not a plain name."""
    for what, value in (("name", name), ("version", version), ("alias", alias)):
        if value is not None or what == "name":
            problem = plain_name_problem(value, what)
            if problem:
                return problem
    return None


def model_label(name: str, version: str | None) -> str:
    """name@version, or the name alone when no version is known (an alias that did not resolve)."""
    return f"{name}@{version}" if version else name
