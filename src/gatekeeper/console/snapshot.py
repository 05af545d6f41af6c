"""One read of the inventory, with the indexes the pages filter on, built once per read so
a page looks up its rows instead of walking every workload on every request."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


def split_label(label: str) -> tuple[str, str]:
    name, _, version = label.partition("@")
    return name, version


@dataclass
class Inventory:
    rows: list[Row]  # in the reader's order
    by_label: dict[str, list[Row]] = field(default_factory=dict)  # name@version (or a bare name) -> rows serving it
    by_name: dict[str, list[Row]] = field(default_factory=dict)  # model name -> rows serving any of its versions
    by_namespace: dict[str, list[Row]] = field(default_factory=dict)
    by_environment: dict[str, Counter[str]] = field(default_factory=dict)  # environment -> compliant -> workloads

    @classmethod
    def of(cls, rows: list[Row]) -> Inventory:
        by_label: defaultdict[str, list[Row]] = defaultdict(list)
        by_name: defaultdict[str, list[Row]] = defaultdict(list)
        by_namespace: defaultdict[str, list[Row]] = defaultdict(list)
        by_environment: dict[str, Counter[str]] = {}
        for row in rows:
            by_namespace[row["namespace"]].append(row)
            for label in dict.fromkeys(row["models"]):
                by_label[label].append(row)
            for name in dict.fromkeys(split_label(label)[0] for label in row["models"]):
                by_name[name].append(row)
            by_environment.setdefault(row["environment"] or "(none)", Counter())[row["compliant"]] += 1
        return cls(rows, dict(by_label), dict(by_name), dict(by_namespace), dict(sorted(by_environment.items())))

    def running(self, name: str, version: str) -> list[Row]:
        return self.by_label.get(f"{name}@{version}", [])

    def labels(self) -> set[tuple[str, str]]:
        return {split_label(label) for label in self.by_label}

    def serving(self, model: str) -> list[Row]:
        """Rows whose models include `model` (name@version) or any version of it (a bare name), in row order."""
        return (self.by_label if "@" in model else self.by_name).get(model, [])
