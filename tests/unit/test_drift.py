"""Drift statistics and PSI: identical traffic scores 0, an independent sample of the same
traffic stays far under the threshold, real shifts (only photos, a surge of one product type,
another language) go over it, and too little traffic gets no score at all."""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from prodcat.drift import (
    FEATURES,
    INPUT_FEATURES,
    OTHER,
    OUTPUT_FEATURES,
    Statistics,
    compare,
    pool_rare,
    psi,
    psi_terms,
    traffic_statistics,
)
from prodcat.evaluation import CONFIDENCE_BINS, TEXT_LENGTH_BINS
from prodcat.sample_catalog import write_sample_catalog
from prodcat_contracts.lake import CaptureRecord, PhotoRef, ScoredType
from prodcat_contracts.text import listing_text

THRESHOLD = 0.2
MODEL = "model-1"
Listing = tuple[str, str, int]  # designation, description, prdtypecode


def _catalog(root: Path, seed: int, per_class: int = 40) -> list[Listing]:
    # Generated titles and descriptions (French, German, English, HTML): real text for the
    # length and language features. No photos drawn: presence is decided per record below.
    write_sample_catalog(root, per_class=per_class, photo_share=0.0, seed=seed)
    with (root / "X_train.csv").open(encoding="utf-8") as fx, (root / "Y_train.csv").open() as fy:
        xs, ys = list(csv.DictReader(fx)), list(csv.DictReader(fy))
    return [
        (x["designation"], x["description"], int(y["prdtypecode"]))
        for x, y in zip(xs, ys, strict=True)
    ]


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Listing], list[Listing]]:
    return (
        _catalog(tmp_path_factory.mktemp("baseline"), seed=11),
        _catalog(tmp_path_factory.mktemp("traffic"), seed=12),
    )


def capture(
    designation: str | None,
    description: str | None,
    code: int,
    rng: random.Random,
    *,
    photo: bool,
    model_version: str = MODEL,
    codes: list[int] | None = None,
) -> CaptureRecord:
    """One /predict as the API records it; the answer from a simulated 85%-accurate model."""
    right = rng.random() < 0.85
    predicted = code if right or not codes else rng.choice([c for c in codes if c != code])
    probability = rng.uniform(0.5, 1.0) if right else rng.uniform(0.15, 0.7)
    has_text = bool(listing_text(designation, description))
    mode = "text_image" if has_text and photo else "image_only" if photo else "text_only"
    request_id = f"{rng.getrandbits(64):016x}"
    return CaptureRecord(
        request_id=request_id,
        requested_at=datetime(2024, 5, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(86400)),
        model_version=model_version,
        designation=designation,
        description=description,
        photo=(
            PhotoRef(key=f"capture/date=2024-05-01/{request_id}.jpg", bytes=2048, sha256="0" * 64)
            if photo
            else None
        ),
        mode=mode,
        predictions=[ScoredType(code=predicted, probability=round(probability, 4))],
        latency_ms=120.0,
    )


def traffic(
    listings: list[Listing], seed: int, *, photo_share: float = 0.8, **kwargs: object
) -> list[CaptureRecord]:
    rng = random.Random(seed)
    codes = sorted({c for _, _, c in listings})
    return [
        capture(d, s, c, rng, photo=rng.random() < photo_share, codes=codes, **kwargs)  # type: ignore[arg-type]
        for d, s, c in listings
    ]


def baseline_of(records: list[CaptureRecord]) -> Statistics:
    """A baseline.json built from records: the same shape evaluation writes."""
    stats = traffic_statistics(
        records, confidence_bins=CONFIDENCE_BINS, text_length_bins=TEXT_LENGTH_BINS
    )
    return Statistics.model_validate({**stats.model_dump(), "model_version": MODEL})


@pytest.fixture(scope="module")
def baseline(catalogs: tuple[list[Listing], list[Listing]]) -> Statistics:
    return baseline_of(traffic(catalogs[0], seed=1))


# --- PSI itself ------------------------------------------------------------------------------


def test_psi_matches_its_definition_and_is_symmetric() -> None:
    expected, actual = {"a": 0.5, "b": 0.5}, {"a": 0.9, "b": 0.1}
    by_hand = 0.4 * math.log(0.9 / 0.5) + (-0.4) * math.log(0.1 / 0.5)
    assert psi(expected, actual) == pytest.approx(by_hand, rel=1e-12)
    assert psi(actual, expected) == pytest.approx(by_hand, rel=1e-12)
    assert psi(expected, expected) == 0.0
    assert all(t >= 0 for t in psi_terms(expected, actual).values())


def test_an_empty_bin_counts_as_half_an_observation() -> None:
    # The traffic has a category the baseline never saw: its baseline share is 0.5/n, not 0.
    terms = psi_terms({"a": 1.0}, {"a": 0.5, "b": 0.5}, expected_n=1000, actual_n=1000)
    e_b = 0.0005 / 1.0005
    assert terms["b"] == pytest.approx((0.5 - e_b) * math.log(0.5 / e_b))
    # With fewer baseline rows the floor is higher and the same shift scores lower: no
    # arbitrary constant decides the score.
    assert psi({"a": 1.0}, {"a": 0.5, "b": 0.5}, expected_n=100, actual_n=1000) < sum(
        terms.values()
    )


def test_rare_categories_pool_into_other_and_a_surge_of_them_still_shows() -> None:
    expected = {"fr": 0.9, "en": 0.094, "ca": 0.003, "la": 0.003}
    actual = {"fr": 0.5, "en": 0.1, "zh": 0.4}
    e, a = pool_rare(expected, actual)
    assert set(e) == set(a) == {"fr", "en", OTHER}
    assert e[OTHER] == pytest.approx(0.006) and a[OTHER] == pytest.approx(0.4)
    assert psi(e, a) > 1.0
    # Noise among rare categories no longer adds up: 0.3% -> 0 and 0 -> 0.3% cancel out.
    e, a = pool_rare({"fr": 0.994, "ca": 0.003, "la": 0.003}, {"fr": 0.994, "it": 0.006})
    assert psi(e, a) == pytest.approx(0.0, abs=1e-12)


# --- statistics of captured requests ---------------------------------------------------------


def test_traffic_statistics_use_the_baselines_text_and_language_functions() -> None:
    rng = random.Random(0)
    records = [
        capture("Table basse <b>en chêne</b>", "&lt;p&gt;Très belle table", 1560, rng, photo=True),
        capture(None, None, 1560, rng, photo=True),  # a photo alone
        capture("Gartenschlauch 20 m", "", 2585, rng, photo=False),
    ]
    stats = traffic_statistics(
        records, confidence_bins=CONFIDENCE_BINS, text_length_bins=TEXT_LENGTH_BINS
    )
    lengths = stats.text_length.as_distribution()
    # "Table basse en chêne . Très belle table": 39 characters, cleaned as training cleans it.
    assert len(listing_text(records[0].designation, records[0].description)) == 39
    assert lengths["[20,50)"] == pytest.approx(1 / 3)
    assert lengths["[1,20)"] == pytest.approx(1 / 3)  # "Gartenschlauch 20 m": 19
    assert lengths["[0,1)"] == pytest.approx(1 / 3)  # the photo alone
    assert stats.language_shares == pytest.approx({"fr": 1 / 3, "de": 1 / 3, "none": 1 / 3})
    assert stats.photo_share == pytest.approx(2 / 3)
    assert stats.mode_shares == pytest.approx(
        {"text_only": 1 / 3, "image_only": 1 / 3, "text_image": 1 / 3}
    )
    assert sum(stats.top1_confidence.shares) == pytest.approx(1.0)


# --- drift checks ----------------------------------------------------------------------------


def test_identical_traffic_scores_zero_and_raises_no_alarm(
    catalogs: tuple[list[Listing], list[Listing]], baseline: Statistics
) -> None:
    report = compare(baseline, traffic(catalogs[0], seed=1), threshold=THRESHOLD)
    assert set(report.features) == set(FEATURES)
    assert report.overall == pytest.approx(0.0, abs=1e-12)
    assert report.status == "ok" and not report.drifted


def test_an_independent_sample_of_the_same_traffic_stays_far_under_the_threshold(
    catalogs: tuple[list[Listing], list[Listing]], baseline: Statistics
) -> None:
    # Other listings (another seed), other answers, at the minimum sample size: only noise.
    records = traffic(catalogs[1], seed=2)[:500]
    report = compare(baseline, records, min_samples=500, threshold=THRESHOLD)
    assert set(report.features) == set(FEATURES)
    assert report.overall is not None and report.overall < THRESHOLD / 2, report.features
    assert report.status == "ok"


def test_only_photos_is_drift_in_every_input_feature(
    catalogs: tuple[list[Listing], list[Listing]], baseline: Statistics
) -> None:
    rng = random.Random(3)
    records = [capture(None, None, c, rng, photo=True) for _, _, c in catalogs[1]]
    report = compare(baseline, records, threshold=THRESHOLD)
    assert report.status == "drift" and report.overall is not None
    assert report.overall > THRESHOLD
    for feature in INPUT_FEATURES:
        assert report.features[feature].psi > THRESHOLD, feature
    assert report.features["mode"].top_movers[0].category == "image_only"
    assert report.features["text_length"].top_movers[0].category == "[0,1)"


def test_every_request_with_a_photo_is_drift_in_photo_presence(
    catalogs: tuple[list[Listing], list[Listing]], baseline: Statistics
) -> None:
    # Same listings and text as before, but sellers now always attach a photo (baseline: 80%).
    report = compare(baseline, traffic(catalogs[1], seed=4, photo_share=1.0))
    assert report.features["photo"].psi > THRESHOLD
    assert report.features["text_length"].psi < THRESHOLD / 2
    assert report.drifted


def test_a_surge_of_one_product_type_is_drift_in_the_predicted_classes(
    catalogs: tuple[list[Listing], list[Listing]], baseline: Statistics
) -> None:
    # Half the traffic is suddenly pools and their parts (a summer sale, say).
    listings = catalogs[1]
    pools = [x for x in listings if x[2] == 2583]
    rng = random.Random(5)
    surged = listings[:600] + [rng.choice(pools) for _ in range(600)]
    report = compare(baseline, traffic(surged, seed=5), threshold=THRESHOLD)
    predicted = report.features["predicted_class"]
    assert predicted.psi > THRESHOLD
    assert predicted.top_movers[0].category == "2583"
    assert predicted.top_movers[0].traffic_share > 0.4
    assert report.overall == max(f.psi for f in report.features.values())
    assert report.drifted


def test_too_few_requests_give_no_score(
    catalogs: tuple[list[Listing], list[Listing]], baseline: Statistics
) -> None:
    rng = random.Random(6)
    photos_only = [capture(None, None, c, rng, photo=True) for _, _, c in catalogs[1][:499]]
    report = compare(baseline, photos_only, min_samples=500)
    # Even a blatant shift is not scored on 499 requests.
    assert report.status == "not_enough_data"
    assert report.overall is None and report.features == {}
    assert set(report.not_scored) == set(FEATURES)
    assert "499 requests" in report.not_scored["photo"]


def test_a_baseline_with_too_few_rows_gives_no_score(
    catalogs: tuple[list[Listing], list[Listing]],
) -> None:
    small = baseline_of(traffic(catalogs[0][:100], seed=1))
    report = compare(small, traffic(catalogs[1], seed=2))
    assert report.status == "not_enough_data"
    assert "baseline has 100 rows" in report.not_scored["language"]


def test_exactly_min_samples_is_enough_for_the_baseline_and_the_traffic(
    catalogs: tuple[list[Listing], list[Listing]],
) -> None:
    small = baseline_of(traffic(catalogs[0][:100], seed=1))
    records = traffic(catalogs[1][:100], seed=2)
    assert small.n == len(records) == 100
    scored = compare(small, records, min_samples=100)
    assert set(scored.features) == set(FEATURES) and scored.not_scored == {}
    assert scored.status in ("ok", "drift")
    # One more than either has: nothing is scored, and the message says which side is short.
    short = compare(small, records, min_samples=101)
    assert short.status == "not_enough_data" and short.features == {}
    assert short.not_scored["language"] == "baseline has 100 rows, fewer than 101"
    big = baseline_of(traffic(catalogs[0][:101], seed=1))
    assert compare(big, records, min_samples=101).not_scored["language"] == (
        "100 requests, fewer than 101"
    )


def test_another_models_answers_are_not_compared_with_this_baseline(
    catalogs: tuple[list[Listing], list[Listing]], baseline: Statistics
) -> None:
    # Right after a deploy the window holds the previous model's answers: inputs still compare.
    old = traffic(catalogs[1][:700], seed=7, model_version="model-0")
    new = traffic(catalogs[1][700:], seed=8)
    report = compare(baseline, old + new)
    assert report.n == len(old) + len(new) and report.n_model == len(new)
    assert report.model_versions == {"model-0": len(old), MODEL: len(new)}
    assert set(report.features) == set(INPUT_FEATURES)
    for feature in OUTPUT_FEATURES:
        assert "answered by the baseline's model" in report.not_scored[feature]


@pytest.mark.parametrize("language_share", [0.3])
def test_a_new_language_is_drift(
    catalogs: tuple[list[Listing], list[Listing]],
    baseline: Statistics,
    language_share: float,
) -> None:
    listings = catalogs[1]
    n_new = int(len(listings) * language_share)
    spanish: Callable[[int], Listing] = lambda i: (  # noqa: E731
        f"Mesa de centro de roble macizo número {i}",
        "Envío rápido, como nueva, con todos sus accesorios originales.",
        1560,
    )
    shifted = [spanish(i) for i in range(n_new)] + listings[n_new:]
    report = compare(baseline, traffic(shifted, seed=9))
    assert report.features["language"].psi > THRESHOLD
    assert report.features["language"].top_movers[0].category in ("es", OTHER)
