"""SageMaker processing job: raw challenge-format data -> `train/` and `test/` directories.

The split is by a hash of the product id, so it is stable over time: a product lands in the
same split in every run, and champion and challenger are compared on the same test rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from sagemaker_jobs.paths import PROCESSING, write_failure

TEST_SHARE = 0.15


def in_test_split(product_id: str, share: float = TEST_SHARE) -> bool:
    bucket = int(hashlib.sha256(product_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < share


def run(raw_dir: Path, out_dir: Path, test_share: float = TEST_SHARE) -> dict[str, object]:
    from prodcat.data import load_listings
    from prodcat.splits import write_listings
    from prodcat.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(raw_dir)
    listings, report = load_listings(raw_dir, taxonomy)
    test = [x for x in listings if in_test_split(x.product_id, test_share)]
    train = [x for x in listings if not in_test_split(x.product_id, test_share)]
    write_listings(train, out_dir / "train", copy=True)
    write_listings(test, out_dir / "test", copy=True)
    summary = {"train": len(train), "test": len(test), "load": report.to_json()}
    (out_dir / "prepare.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, default=PROCESSING / "input")
    parser.add_argument("--output", type=Path, default=PROCESSING / "output")
    parser.add_argument("--test-share", type=float, default=TEST_SHARE)
    args = parser.parse_args(argv)
    try:
        print(run(args.input, args.output, args.test_share))
    except Exception as exc:
        write_failure(f"{type(exc).__name__}: {exc}")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
