"""Derive the run-time facts the product needs from the vendor reference files.

The repository must stand on its own and must not carry the vendors' files or prose, so this
script reads the reference folder (see `m3amazon.reference`: $M3AMAZON_REFERENCE_DIR or
`../shared`) and writes compact fact tables without any descriptions:

- src/m3amazon/m3/data/mi_fields.json: per MI program and transaction, the HTTP method, the input
  fields (type, length, required) and the output fields (length), from m3-mi/*.tsv.
- src/m3amazon/amazon/data/operations.json: per SP-API operation, method, path, rate and burst,
  from amazon-sp-api/operations-index.json.

Run it with `make derive-reference`; commit the result.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from m3amazon.reference import candidates, find_reference_dir

ROOT = Path(__file__).resolve().parents[1]


def reference_dir() -> Path:
    path = find_reference_dir()
    if path is None:
        sys.exit(
            f"reference data not found in {', '.join(map(str, candidates()))}; set M3AMAZON_REFERENCE_DIR"
        )
    return path


def derive_mi_fields(ref: Path) -> dict:
    table: dict[str, dict] = {}
    with open(ref / "m3-mi" / "transactions.tsv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            table.setdefault(row["program"], {})[row["transaction"]] = {
                "method": row["http_method"],
                "in": {},
                "out": {},
            }
    with open(ref / "m3-mi" / "fields.tsv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            trn = table.setdefault(row["program"], {}).setdefault(
                row["transaction"], {"method": "GET", "in": {}, "out": {}}
            )
            length = int(row["length"]) if row["length"] else None
            if row["direction"] == "in":
                trn["in"][row["field"]] = [row["type"] or "string", length, row["required"] == "yes"]
            else:
                trn["out"][row["field"]] = length
    return {
        "_comment": "Derived by scripts/derive_reference.py from m3-mi/*.tsv. in: [type, length, "
        "required]; out: length.",
        "programs": table,
    }


def derive_operations(ref: Path) -> dict:
    index = json.loads((ref / "amazon-sp-api" / "operations-index.json").read_text(encoding="utf-8"))
    ops = {}
    for op in index["operations"]:
        ops[op["operationId"] + "@" + op["apiVersion"]] = {
            "operation": op["operationId"],
            "version": op["apiVersion"],
            "method": op["method"],
            "path": op["path"],
            "rate": op["rate_rps"],
            "burst": op["burst"],
            "deprecated": op["deprecated"],
        }
    return {
        "_comment": "Derived by scripts/derive_reference.py from amazon-sp-api/operations-index.json "
        "(usage plans: rate in requests per second, burst).",
        "operations": ops,
    }


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")


def main() -> None:
    ref = reference_dir()
    write(ROOT / "src/m3amazon/m3/data/mi_fields.json", derive_mi_fields(ref))
    write(ROOT / "src/m3amazon/amazon/data/operations.json", derive_operations(ref))


if __name__ == "__main__":
    main()
