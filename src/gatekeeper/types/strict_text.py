"""YAML and JSON read strictly: a key given twice in one mapping is refused, not last-wins.

Evidence is written by the people the gate governs: with last-wins parsing, a second
`fairness:` block appended to a bundle silently replaces the first. Both parsers are the
usual ones (PyYAML's safe loader on libyaml, the standard `json`); only the duplicate check
is added, and JSON's non-standard NaN/Infinity literals are refused.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"
RULE = "a key may appear only once in a mapping (a repeated key would silently replace the first)"


class DuplicateKeyError(ValueError):
    """A mapping names one key twice; the message names the key, where, and the rule."""


class StrictLoader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader, refusing a key repeated in one mapping (YAML 1.2 requires unique
    keys; PyYAML keeps the last). Keys brought in by a merge (`<<: *base`) may be
    overridden, as YAML's merge key intends."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the safe constructor refuses it itself
            if first is not None:
                raise DuplicateKeyError(f"duplicate key {key!r} at line {line} (first at line {first}): {RULE}")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def load_yaml(text: str) -> Any:
    """One YAML document; yaml.YAMLError when malformed, DuplicateKeyError for a repeated key."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is the safe loader


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(f"duplicate key {key!r} in a JSON object: {RULE}")
        out[key] = value
    return out


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number (NaN and infinities are refused)")


def load_json(text: str | bytes) -> Any:
    """One JSON document; ValueError when malformed, DuplicateKeyError (a ValueError) for a
    repeated key, ValueError for NaN/Infinity."""
    return json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)
