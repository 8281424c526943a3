"""The environment variables AWS gives our containers: the pipeline's state machine sets them on
its processing and training jobs, CreateTransformJob on the serving image; the code inside reads
them. Each name is written once, here."""

from __future__ import annotations

RUN_ID = "PRODCAT_RUN_ID"  # the pipeline run a job belongs to, recorded in what it writes
CODE_VERSION = "PRODCAT_CODE_VERSION"  # the commit the images were built from
DATA_LAKE_BUCKET = "PRODCAT_DATA_LAKE_BUCKET"  # where a Batch Transform line's photo_key is read
RAW_PREFIX = "PRODCAT_RAW_PREFIX"  # the prefix every photo_key must lie under
