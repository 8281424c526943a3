"""SageMaker processing job: the catalogue in the raw zone -> JSON Lines for a Batch Transform.

The catalogue is what the marketplace sells: the base data (`raw/base/`, challenge format) and
the products admins added (`raw/products/records/`), minus deleted products (tombstones), one
line per product id (an admin's record replaces the base row). Feedback is not a product.
Each line is inference/batch.py's contract; photos are named by their key in the raw zone,
never copied, so the transform job's container reads each one once, from the lake:

    {"id": "123", "designation": "...", "description": "...", "photo_key": "raw/base/images/..."}

Output (`--output`, uploaded to models/predictions/<model version>/input/): part-NNNNN.jsonl,
10,000 lines each (the unit SageMaker spreads over transform instances).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prodcat.batch import chunks, local_catalogue
from prodcat.transform_job import INPUT_ROWS_PER_FILE
from prodcat_contracts.lake import BASE_DIR, ZONES
from prodcat_contracts.taxonomy import builtin_taxonomy
from sagemaker_jobs.paths import PROCESSING, write_failure
from sagemaker_jobs.prepare import (
    SourceReport,
    apply_tombstones,
    read_products,
    read_tombstones,
)


def catalogue(raw_dir: Path, raw_prefix: str = ZONES.raw) -> Iterator[dict[str, Any]]:
    deleted = read_tombstones(raw_dir)
    codes = frozenset(builtin_taxonomy().codes)
    products, _ = apply_tombstones(
        read_products(raw_dir, raw_prefix, codes, SourceReport()), deleted
    )
    replaced = {p.source_id for p in products}
    if (raw_dir / BASE_DIR).is_dir():
        base = local_catalogue(raw_dir / BASE_DIR, key_prefix=f"{raw_prefix}{BASE_DIR}/")
        yield from (x for x in base if x["id"] not in deleted and x["id"] not in replaced)
    for row in sorted(products, key=lambda r: r.source_id):
        line: dict[str, Any] = {"id": row.source_id, "description": row.text}
        if row.photo is not None:
            line["photo_key"] = raw_prefix + row.photo.relative_to(raw_dir).as_posix()
        yield line


def write_catalogue(raw_dir: Path, out_dir: Path, raw_prefix: str = ZONES.raw) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = 0
    for number, lines in enumerate(chunks(catalogue(raw_dir, raw_prefix), INPUT_ROWS_PER_FILE)):
        (out_dir / f"part-{number:05d}.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))
        rows += len(lines)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, default=PROCESSING / "input")
    parser.add_argument("--output", type=Path, default=PROCESSING / "output")
    parser.add_argument("--raw-prefix", default=ZONES.raw, help="S3 prefix of the raw zone")
    args = parser.parse_args(argv)
    try:
        rows = write_catalogue(args.input, args.output, args.raw_prefix)
    except Exception as exc:
        write_failure(f"{type(exc).__name__}: {exc}", "processing")
        raise
    print(json.dumps({"catalogue_rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
