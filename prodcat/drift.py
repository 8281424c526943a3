"""Drift: what /predict traffic looks like now, against what the production model was tested on.

Pure functions, no AWS: the drift job (`sagemaker_jobs/drift.py`) and `prodcat drift` feed them.

Inputs
- The baseline: the `baseline.json` evaluation writes (`prodcat.evaluation.build_baseline`).
  The drift job reads the production model's copy at the fixed key
  ``models/production/baseline.json`` of the data lake (beside it ``models/production/metrics.json``),
  which the pipeline's deploy step writes when a model goes into service.
- Traffic: capture records (`prodcat_contracts.lake.CaptureRecord`, one per /predict), taken here
  as anything with the same attributes (`CaptureLike`), so this module does not import lambdas/.

Statistics of the traffic have the baseline's shape and are computed with the baseline's own
functions: text length of `prodcat_contracts.text.listing_text(designation, description)`, language by
`prodcat.language.detect_language` of that text, and the histogram edges read from the baseline
itself (`np.histogram` with them), so the two sides cannot be binned differently.

Divergence: the Population Stability Index, per feature,
``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`` (e: baseline shares, a: traffic shares), which is the
symmetrised Kullback-Leibler divergence. Chosen over Jensen-Shannon because its scale comes with
a rule of thumb the field shares, and the configured alarm threshold of 0.2 (cdk.json
`monitoring.drift_score_threshold`) reads on it: < 0.1 stable, 0.1-0.25 a moderate shift,
> 0.25 a major one. What 0.2 means here: one of 27 equally common product types growing from
3.7 % of the traffic to 16 % (PSI 0.197; 17 %: 0.222); 15-20 % of the traffic moving from French
to English in an 80/10/10 mix (0.17-0.28); the photo share going from 80 % to 95 % (0.23) or
to 60 % (0.20). JS is bounded and smoother but about 8 times smaller for the same small shift
(JS ~ PSI / 8 in nats): 0.2 in JS would only catch enormous shifts.
An empty bin counts as half an observation (share floor ``0.5 / n``): a fixed epsilon would make
the score depend on an arbitrary constant (``ln(share / epsilon)``) whenever a bin is empty.

Sample size: with no drift at all, ``PSI * n * N / (n + N)`` follows roughly a chi-square with
k - 1 degrees of freedom, so PSI's noise floor is about ``(k - 1) * (1 / n + 1 / N)``. For the
27 product types at n = 500 captured requests that is 0.05 +- 0.015 (measured on generated
traffic, tests/unit/test_drift.py: overall 0.04 on average, 0.06 at most over 20 samples): far
enough under 0.2 that an alarm means drift, not chance. Below `MIN_SAMPLES` a feature gets no score ("not enough
data"), and so does a baseline with fewer rows.

Overall score: the maximum over the features scored, so the alarm fires when any one feature
drifts, and the report says which (with the categories that moved most).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from prodcat.language import detect_language
from prodcat_contracts.text import listing_text

MIN_SAMPLES = 500
DEFAULT_THRESHOLD = 0.2
# Categories rarer than this in the baseline are pooled into `OTHER` (languages, product types):
# dozens of 0.1 % languages would otherwise add sampling noise to the score, not signal.
MIN_CATEGORY_SHARE = 0.005
OTHER = "other"
# When a distribution's sample size is unknown, an empty bin gets this share.
EPSILON = 1e-4

# Features described by the inputs: comparable whichever model answered.
INPUT_FEATURES = ("text_length", "language", "photo", "mode")
# Features described by the model's answers: only comparable for the baseline's model.
OUTPUT_FEATURES = ("predicted_class", "top1_confidence")
FEATURES = (*OUTPUT_FEATURES, *INPUT_FEATURES)
OVERALL = "overall"
MODES = ("text_only", "image_only", "text_image")


class ScoredLike(Protocol):
    @property
    def code(self) -> int: ...
    @property
    def probability(self) -> float: ...


class CaptureLike(Protocol):
    """What drift reads from a capture record (prodcat_contracts.lake.CaptureRecord)."""

    @property
    def designation(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def photo(self) -> object | None: ...
    @property
    def mode(self) -> str: ...
    @property
    def model_version(self) -> str: ...
    @property
    def top1(self) -> ScoredLike: ...


class Histogram(BaseModel):
    model_config = ConfigDict(frozen=True)

    bins: list[float] = Field(min_length=2, description="edges, as numpy.histogram takes them")
    shares: list[float]

    @model_validator(mode="after")
    def _one_share_per_bin(self) -> Histogram:
        if len(self.shares) != len(self.bins) - 1:
            raise ValueError(f"{len(self.bins)} edges need {len(self.bins) - 1} shares")
        return self

    def as_distribution(self) -> dict[str, float]:
        return {
            f"[{lo:g},{hi:g})": share
            for lo, hi, share in zip(self.bins[:-1], self.bins[1:], self.shares, strict=True)
        }


class Statistics(BaseModel):
    """The shape baseline.json and the traffic statistics share (extra baseline keys ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    model_version: str | None = None
    n: int = Field(ge=0)
    predicted_class_shares: dict[str, float]
    top1_confidence: Histogram
    text_length: Histogram
    language_shares: dict[str, float]
    photo_share: float = Field(ge=0, le=1)
    mode_shares: dict[str, float]

    @property
    def n_predictions(self) -> int:
        """How many rows `predicted_class_shares` and `top1_confidence` describe."""
        return self.n


class TrafficStatistics(Statistics):
    """Statistics of captured requests; model-output features only of the baseline's model."""

    n_model: int = Field(ge=0, description="records answered by the baseline's model version")
    model_versions: dict[str, int] = Field(default_factory=dict)

    @property
    def n_predictions(self) -> int:
        return self.n_model


def _histogram(values: Sequence[float], bins: Sequence[float]) -> Histogram:
    # The same computation as prodcat.evaluation's baseline histograms.
    counts, _ = np.histogram(np.asarray(values, dtype=float), bins=np.asarray(bins, dtype=float))
    total = max(int(counts.sum()), 1)
    return Histogram(bins=[float(b) for b in bins], shares=[float(c) / total for c in counts])


def _shares(counter: Counter[str], n: int) -> dict[str, float]:
    return {k: v / n for k, v in sorted(counter.items())} if n else {}


def traffic_statistics(
    records: Iterable[CaptureLike],
    *,
    confidence_bins: Sequence[float],
    text_length_bins: Sequence[float],
    model_version: str | None = None,
) -> TrafficStatistics:
    """The baseline's statistics, of captured requests.

    Input features (text length, language, photo, mode) describe every record; the predicted
    class and top-1 confidence only the records answered by `model_version` (all when None):
    another model's answers say nothing about drift against this model's baseline.
    """
    records = list(records)
    answered = [r for r in records if model_version is None or r.model_version == model_version]
    texts = [listing_text(r.designation, r.description) for r in records]
    n, n_model = len(records), len(answered)
    predicted = Counter(str(r.top1.code) for r in answered)
    return TrafficStatistics(
        model_version=model_version,
        n=n,
        n_model=n_model,
        model_versions=dict(Counter(r.model_version for r in records)),
        predicted_class_shares=_shares(predicted, n_model),
        top1_confidence=_histogram([r.top1.probability for r in answered], confidence_bins),
        text_length=_histogram([len(t) for t in texts], text_length_bins),
        language_shares=_shares(Counter(detect_language(t) for t in texts), n),
        photo_share=sum(r.photo is not None for r in records) / n if n else 0.0,
        mode_shares={m: sum(r.mode == m for r in records) / n if n else 0.0 for m in MODES},
    )


def statistics_for_baseline(
    baseline: Statistics, records: Iterable[CaptureLike]
) -> TrafficStatistics:
    """Traffic statistics binned exactly as `baseline` was, for its model version."""
    return traffic_statistics(
        records,
        confidence_bins=baseline.top1_confidence.bins,
        text_length_bins=baseline.text_length.bins,
        model_version=baseline.model_version,
    )


def distributions(stats: Statistics) -> dict[str, dict[str, float]]:
    """Each feature as a discrete distribution: category or bin -> share."""
    return {
        "predicted_class": dict(stats.predicted_class_shares),
        "top1_confidence": stats.top1_confidence.as_distribution(),
        "text_length": stats.text_length.as_distribution(),
        "language": dict(stats.language_shares),
        "photo": {"photo": stats.photo_share, "no_photo": 1.0 - stats.photo_share},
        "mode": {m: stats.mode_shares.get(m, 0.0) for m in MODES},
    }


def pool_rare(
    expected: Mapping[str, float],
    actual: Mapping[str, float],
    min_share: float = MIN_CATEGORY_SHARE,
) -> tuple[dict[str, float], dict[str, float]]:
    """Fold the categories the baseline holds under `min_share` (or lacks) into `OTHER`.

    A surge of rare categories still shows: `OTHER` grows in the traffic.
    """
    rare = {k for k in {*expected, *actual} if expected.get(k, 0.0) < min_share}
    if len(rare) < 2:
        return dict(expected), dict(actual)

    def fold(shares: Mapping[str, float]) -> dict[str, float]:
        out = {k: v for k, v in shares.items() if k not in rare}
        out[OTHER] = out.get(OTHER, 0.0) + sum(v for k, v in shares.items() if k in rare)
        return out

    return fold(expected), fold(actual)


def _floored(shares: Sequence[float], n: int | None) -> np.ndarray:
    floor = 0.5 / n if n else EPSILON
    values = np.maximum(np.asarray(shares, dtype=float), floor)
    return values / values.sum()


def psi_terms(
    expected: Mapping[str, float],
    actual: Mapping[str, float],
    *,
    expected_n: int | None = None,
    actual_n: int | None = None,
) -> dict[str, float]:
    """Each category's contribution to the PSI (all >= 0); empty bins count half an observation."""
    keys = sorted({*expected, *actual})
    if not keys:
        return {}
    e = _floored([expected.get(k, 0.0) for k in keys], expected_n)
    a = _floored([actual.get(k, 0.0) for k in keys], actual_n)
    return {k: float(t) for k, t in zip(keys, (a - e) * np.log(a / e), strict=True)}


def psi(
    expected: Mapping[str, float],
    actual: Mapping[str, float],
    *,
    expected_n: int | None = None,
    actual_n: int | None = None,
) -> float:
    """Population Stability Index of `actual` against `expected` (category -> share)."""
    terms = psi_terms(expected, actual, expected_n=expected_n, actual_n=actual_n)
    return math.fsum(terms.values())


class Mover(BaseModel):
    """A category or bin whose share moved: what on-call reads to see what drifted."""

    category: str
    baseline_share: float
    traffic_share: float
    contribution: float


class FeatureDrift(BaseModel):
    feature: str
    psi: float
    n: int
    top_movers: list[Mover]


class DriftReport(BaseModel):
    """One drift check: a PSI per feature with enough data, and the overall score (their max)."""

    status: Literal["ok", "drift", "not_enough_data"]
    overall: float | None = Field(description="max PSI over the scored features; None: no score")
    threshold: float
    min_samples: int
    baseline_model_version: str | None
    baseline_n: int
    n: int = Field(description="captured requests compared")
    n_model: int = Field(description="of which answered by the baseline's model version")
    model_versions: dict[str, int]
    features: dict[str, FeatureDrift]
    not_scored: dict[str, str] = Field(description="feature -> why it has no score")

    @property
    def drifted(self) -> bool:
        return self.status == "drift"


def feature_drift(
    feature: str, baseline: Statistics, traffic: TrafficStatistics, *, movers: int = 3
) -> FeatureDrift:
    expected, actual = distributions(baseline)[feature], distributions(traffic)[feature]
    if feature in ("language", "predicted_class"):
        expected, actual = pool_rare(expected, actual)
    n = traffic.n_predictions if feature in OUTPUT_FEATURES else traffic.n
    terms = psi_terms(expected, actual, expected_n=baseline.n, actual_n=n)
    ranked = sorted(terms, key=lambda k: terms[k], reverse=True)[:movers]
    return FeatureDrift(
        feature=feature,
        psi=math.fsum(terms.values()),
        n=n,
        top_movers=[
            Mover(
                category=k,
                baseline_share=expected.get(k, 0.0),
                traffic_share=actual.get(k, 0.0),
                contribution=terms[k],
            )
            for k in ranked
        ],
    )


def compare(
    baseline: Statistics,
    records: Iterable[CaptureLike],
    *,
    min_samples: int = MIN_SAMPLES,
    threshold: float = DEFAULT_THRESHOLD,
) -> DriftReport:
    """Score captured `records` against `baseline`: PSI per feature, overall, status."""
    traffic = statistics_for_baseline(baseline, records)
    features: dict[str, FeatureDrift] = {}
    not_scored: dict[str, str] = {}
    for feature in FEATURES:
        n = traffic.n_predictions if feature in OUTPUT_FEATURES else traffic.n
        if baseline.n < min_samples:
            not_scored[feature] = f"baseline has {baseline.n} rows, fewer than {min_samples}"
        elif n < min_samples:
            whose = " answered by the baseline's model" if feature in OUTPUT_FEATURES else ""
            not_scored[feature] = f"{n} requests{whose}, fewer than {min_samples}"
        else:
            features[feature] = feature_drift(feature, baseline, traffic)
    overall = max((f.psi for f in features.values()), default=None)
    status: Literal["ok", "drift", "not_enough_data"] = (
        "not_enough_data" if overall is None else "drift" if overall > threshold else "ok"
    )
    return DriftReport(
        status=status,
        overall=overall,
        threshold=threshold,
        min_samples=min_samples,
        baseline_model_version=baseline.model_version,
        baseline_n=baseline.n,
        n=traffic.n,
        n_model=traffic.n_model,
        model_versions=traffic.model_versions,
        features=features,
        not_scored=not_scored,
    )
