"""`make demo`'s API journey on the local stack: what a new user reads must be whole (the top-5
of every prediction) and say which refusals are deliberate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local_runtime.gateway import TokenBucket
from local_runtime.stack import LocalStack
from scripts.demo import api_demo


def test_the_demo_shows_every_prediction_whole_and_labels_its_refusals(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    throttle = TokenBucket(rate=1000, burst=1000)
    with LocalStack(model_dir, throttle=throttle, log_file=tmp_path / "api.log") as stack:
        r = stack.resources
        assert r is not None
        api_demo(stack, r.api_url, r.api_key)
    out = capsys.readouterr().out
    shown = re.findall(
        r"\n(\w+, [^\n]+:)  \(model [^\n]+\)\n((?:  +\d+  \d\.\d{3}  [^\n]+\n)+)", out
    )
    assert [title for title, _ in shown] == [
        "seller, text only:",
        "seller, photo only:",
        "seller, text + photo:",
        "admin, text only (one word):",
    ]
    assert all(len(rows.splitlines()) == 5 for _, rows in shown), out  # the API's default top-5
    refusals = [line for line in out.splitlines() if "refused as it must be" in line]
    assert [line.split(" -> ")[1][:3] for line in refusals] == ["403", "404", "403"]
