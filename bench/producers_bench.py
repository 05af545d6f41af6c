"""The evidence producers on data of a realistic size, through the real CLI.

- drift: Evidently on 100,000 rows x 20 numeric columns (reference vs current, 5 shifted);
- pii: Presidio (pattern recognizers) on 10,000 rows x 10 columns, every one read: names,
  cities, free text, street addresses, order numbers, e-mail addresses and phone numbers as
  text, account numbers as integers and card numbers as floats (empty cells make the
  column float), mostly distinct values (each distinct value is analysed once);
- shap: TreeExplainer on a 100-tree random forest with 50 features, 1,000 rows.

Each is one `gatekeeper evidence ...` process, timed from start to exit (imports included),
with its peak memory (max RSS of the child). Run: `.venv/bin/python -m bench.producers_bench`
(writes bench-results/producers.json); name producers to run only those (`... pii`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .common import ROOT, write_result


# The CLI in a child that reports its own peak memory on exit (RUSAGE_CHILDREN would be the
# largest of all children so far).
CHILD = ("import resource, runpy, sys\n"
         "sys.argv = ['gatekeeper', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('gatekeeper', run_name='__main__')\n"
         "finally:\n    print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")


def timed_cli(*args: str) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, "evidence", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "DO_NOT_TRACK": "1"})
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    peak_kb = int(done.stderr.rsplit("maxrss ", 1)[1].split()[0])
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak_kb / 1024, 1), "output": done.stdout}


def drift(folder: Path) -> dict:
    rng = np.random.default_rng(0)
    rows, cols = 100_000, 20
    reference = pd.DataFrame(rng.normal(size=(rows, cols)), columns=[f"f{i:02d}" for i in range(cols)])
    current = pd.DataFrame(rng.normal(size=(rows, cols)), columns=reference.columns)
    current.iloc[:, :5] += 0.5
    reference.to_parquet(folder / "reference.parquet")
    current.to_parquet(folder / "current.parquet")
    result = timed_cli("drift", "--reference", str(folder / "reference.parquet"),
                       "--current", str(folder / "current.parquet"))
    return {"rows": rows, "columns": cols, "shifted_columns": 5, **result}


def pii(folder: Path) -> dict:
    rng = np.random.default_rng(1)
    rows = 10_000
    first = np.array(["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivo", "Jun"])
    cities = np.array(["Lisbon", "Leeds", "Lyon", "Lagos", "Lima", "Lund", "Linz", "Luxor"])
    words = np.array(["late", "payment", "asked", "about", "terms", "rate", "renewal", "branch", "visit", "call"])
    ids = rng.permutation(10_000_000)[:rows]
    frame = pd.DataFrame({
        "name": [f"{a} {b}son" for a, b in zip(rng.choice(first, rows), rng.choice(first, rows))],
        "city": rng.choice(cities, rows),
        "note": [" ".join(rng.choice(words, 8)) for _ in range(rows)],
        "comment": [" ".join(rng.choice(words, 12)) for _ in range(rows)],
        "street": [f"{n} {w} Street" for n, w in zip(rng.integers(1, 300, rows), rng.choice(words, rows))],
        "order": [f"ORD-{i:08d}" for i in ids],
        "email": [f"{a.lower()}.{i}@example.com" if i % 10 == 0 else "none" for a, i in zip(rng.choice(first, rows), ids)],
        "phone": [f"+1 212 555 {i % 10_000:04d}" if i % 5 == 0 else "declined" for i in ids],
        "account": rng.integers(10**9, 10**10, rows),
        "card": [float(luhn(4_000_000_000_000_000 + int(i) * 10)) if i % 20 == 0 else np.nan for i in ids],
    })
    frame.to_csv(folder / "customers.csv", index=False)
    result = timed_cli("pii", "--data", str(folder / "customers.csv"))
    return {"rows": rows, "columns": 10, **result}


def luhn(number: int) -> int:
    """`number` with its last digit replaced by the Luhn check digit (a valid card number)."""
    digits = [int(d) for d in str(number // 10)]
    total = sum(d if i % 2 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(reversed(digits)))
    return number // 10 * 10 + (10 - total % 10) % 10


def shap(folder: Path) -> dict:
    import joblib
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(2)
    rows, features = 1_000, 50
    frame = pd.DataFrame(rng.normal(size=(rows, features)), columns=[f"x{i:02d}" for i in range(features)])
    label = (frame["x00"] + 0.5 * frame["x01"] + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    model = RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0, n_jobs=1).fit(frame, label)
    joblib.dump(model, folder / "model.joblib")
    frame.to_parquet(folder / "rows.parquet")
    result = timed_cli("explain", "--model", str(folder / "model.joblib"), "--data", str(folder / "rows.parquet"))
    return {"rows": rows, "features": features, "trees": 100, **result}


def main() -> None:
    # `python -m bench.producers_bench pii` runs only the named producers
    only = set(sys.argv[1:])
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, bench in (("drift", drift), ("pii", pii), ("shap", shap)):
            if only and name not in only:
                continue
            folder = Path(tmp) / name
            folder.mkdir()
            result = bench(folder)
            output = result.pop("output")
            results[name] = result
            print(f"{name}: {result}", flush=True)
            print("  " + "\n  ".join(output.splitlines()[:8]), flush=True)
    # Machine load when the run ended: on 2 shared cores the figures scale with it.
    results["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    results["cpus"] = os.cpu_count()
    path = write_result("producers", results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
