"""model.tar.gz, both ways, as SageMaker handles it: a training job's /opt/ml/model is packed
into it; the evaluate job, an endpoint and a Batch Transform unpack it into a model directory.

The one place that packs and unpacks a model: the evaluate job (in the jobs image), the local
runtime's jobs, endpoints and Batch Transform, and `make images`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

from prodcat_contracts.lake import split_s3_uri


def pack_model(model_dir: Path) -> bytes:
    """model.tar.gz with fixed metadata: the same model gives the same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(path.relative_to(model_dir).as_posix())
            info.size = path.stat().st_size
            info.mode = 0o644
            with path.open("rb") as f:
                tar.addfile(info, f)
    return gzip.compress(raw.getvalue(), mtime=0)


def extract_model(archive: Path | bytes, target: Path) -> Path:
    """The archive's files (a path, or its bytes) under `target`; nothing that would land
    outside it, no links or devices."""
    source = {"name": archive} if isinstance(archive, Path) else {"fileobj": io.BytesIO(archive)}
    with tarfile.open(**source) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")  # refuses absolute paths, links out of `target`
        else:  # Python 3.11 before 3.11.4 (Debian 12's 3.11.2) has no filters: refuse by hand
            tar.extractall(target, members=_plain_members(tar, target))
    return target


def _plain_members(tar: tarfile.TarFile, target: Path) -> list[tarfile.TarInfo]:
    """Regular files and directories that land inside `target`: all a model archive holds."""
    root = target.resolve()
    members = tar.getmembers()
    for member in members:
        inside = (root / member.name).resolve().is_relative_to(root)
        if not (member.isfile() or member.isdir()) or not inside or Path(member.name).is_absolute():
            raise tarfile.TarError(f"refusing {member.name!r} in the model archive")
        member.mode &= 0o755  # as the data filter: no set-id bits, no group/other write
    return members


def unpack_model(model_path: Path, workdir: Path) -> Path:
    """A training job's model.tar.gz, unpacked; a directory that is already a model, as is."""
    archive = model_path if model_path.is_file() else model_path / "model.tar.gz"
    if not archive.is_file():
        return model_path
    return extract_model(archive, workdir / "model")


def fetch_model(s3: Any, model_data_url: str, models_dir: Path) -> Path:
    """A model's ModelDataUrl (s3://.../model.tar.gz), unpacked once per distinct archive under
    `models_dir/<sha256 prefix>`: a model deployed again is not unpacked again."""
    bucket, key = split_s3_uri(model_data_url)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    target = models_dir / hashlib.sha256(body).hexdigest()[:16]
    if not target.exists():
        extract_model(body, target)
    return target
