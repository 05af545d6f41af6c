"""Reading a Kubernetes object by the serving-kinds table's paths (`spec.containers.*`,
`spec.**.storageUri`): every value a path reaches, and the shape errors met on the way.

Pure functions over plain dicts; the table (serving.py) splits its paths once.
"""

from __future__ import annotations

from typing import Any


def split(path: str) -> tuple[str, ...]:
    return tuple(p for p in str(path).split(".") if p)


# How deep the gate reads an object. Real serving objects nest a few dozen levels at most
# (a Seldon graph of 30 chained models is ~65); anything deeper is unreadable, said so as a
# shape error, and never a recursion limit reached from input (README "The webhook").
MAX_DEPTH = 100


def walk(node: Any, pattern: tuple[str, ...], errors: list[str] | None, at: str = "") -> list[tuple[str, Any]]:
    """(path, value) of every value `pattern` reaches, in document order. A literal key met
    by a list or a scalar is a shape error while the path so far is literal (`spec.predictor`
    must be a map); past a wildcard, other fields' values may be anything and are passed
    over. Nothing deeper than MAX_DEPTH levels is read: the first place the walk stops is a
    shape error in `errors` (when given), wherever the wildcards are."""
    out: list[tuple[str, Any]] = []
    too_deep: list[str] = []
    # Iterative, depth-first: (node, pattern, errors-or-None, path, depth); children are
    # pushed in reverse so they come off the stack in document order.
    stack: list[tuple[Any, tuple[str, ...], list[str] | None, str, int]] = [(node, pattern, errors, at, 0)]
    while stack:
        node, pattern, shape_errors, at, depth = stack.pop()
        if not pattern:
            out.append((at, node))
            continue
        head, rest = pattern[0], pattern[1:]
        if head in ("*", "**"):
            children = _children(node, at)
            if children and depth >= MAX_DEPTH:
                too_deep.append(at)
            else:
                keep = pattern if head == "**" else rest
                stack.extend((child, keep, None, key, depth + 1) for key, child in reversed(children))
            if head == "**":
                stack.append((node, rest, shape_errors, at, depth))  # zero levels: first
        elif isinstance(node, dict):
            if head in node:
                if depth >= MAX_DEPTH:
                    too_deep.append(at)
                    continue
                stack.append((node[head], rest, shape_errors, _join(at, head), depth + 1))
        elif node is not None and shape_errors is not None and at:
            shape_errors.append(f"{at}: expected a map with `{head}`, found {type_name(node)}")
    if too_deep and errors is not None:
        errors.append(f"{_abbreviated(too_deep[0])}: nested over {MAX_DEPTH} levels deep, unreadable")
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


def _abbreviated(path: str, shown: int = 6) -> str:
    """Where a walk stopped, short enough for a one-line message: its first fields."""
    fields = path.split(".")
    return path if len(fields) <= shown else ".".join(fields[:shown]) + " and below"


def _join(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key
