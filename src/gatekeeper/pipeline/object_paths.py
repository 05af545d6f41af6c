"""Reading a Kubernetes object by the serving-kinds table's paths (`spec.containers.*`,
`spec.**.storageUri`): every value a path reaches, and the shape errors met on the way.

Pure functions over plain dicts; the table (serving.py) splits its paths once.
"""

from __future__ import annotations

from typing import Any


def split(path: str) -> tuple[str, ...]:
    return tuple(p for p in str(path).split(".") if p)


def walk(node: Any, pattern: tuple[str, ...], errors: list[str] | None, at: str = "") -> list[tuple[str, Any]]:
    """(path, value) of every value `pattern` reaches. A literal key met by a list or a
    scalar is a shape error while the path so far is literal (`spec.predictor` must be a
    map); past a wildcard, other fields' values may be anything and are passed over."""
    if not pattern:
        return [(at, node)]
    head, rest = pattern[0], pattern[1:]
    out: list[tuple[str, Any]] = []
    if head == "**":
        out.extend(walk(node, rest, errors, at))
        for key, child in _children(node, at):
            out.extend(walk(child, pattern, None, key))
        return out
    if head == "*":
        for key, child in _children(node, at):
            out.extend(walk(child, rest, None, key))
        return out
    if isinstance(node, dict):
        if head in node:
            out.extend(walk(node[head], rest, errors, _join(at, head)))
    elif node is not None and errors is not None and at:
        errors.append(f"{at}: expected a map with `{head}`, found {type_name(node)}")
    return out


def check_map(obj: dict[str, Any], path: tuple[str, ...], errors: list[str]) -> None:
    """A shape error when the value at `path`, if present, is not a map."""
    node: Any = obj
    for depth, key in enumerate(path):
        if not isinstance(node, dict) or key not in node:
            return
        node = node[key]
        if depth == len(path) - 1 and not isinstance(node, dict):
            errors.append(f"{'.'.join(path)}: expected a map, found {type_name(node)}")


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "a map", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _children(node: Any, at: str) -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [(_join(at, str(k)), v) for k, v in node.items() if k not in ("metadata", "status")]
    if isinstance(node, list):
        return [(f"{at}[{i}]", v) for i, v in enumerate(node)]
    return []


def _join(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key
