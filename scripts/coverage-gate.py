"""Fail when `opa test --coverage` reports less than the required percentage."""

import json
import sys

report = json.load(open(sys.argv[1]))
required = float(sys.argv[2])
coverage = float(report.get("coverage", 0))
print(f"policy coverage: {coverage:.1f}% (required {required:g}%)")
for path, file in sorted(report.get("files", {}).items()):
    if float(file.get("coverage", 0)) < 100:
        print(f"  {path}: {float(file.get('coverage', 0)):.1f}%")
sys.exit(0 if coverage >= required else 1)
