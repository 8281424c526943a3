"""The evaluate job unpacks a training job's model.tar.gz safely on every Python 3.11: with the
tarfile data filter where it exists (3.11.4+), by its own checks where not (Debian 12's 3.11.2,
the jobs image's stand-in base on machines without Docker Hub)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from sagemaker_jobs.model_archive import pack_model, unpack_model


@pytest.fixture(params=["data filter", "no filter"])
def python(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "no filter":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return str(request.param)


def _archive(path: Path, *members: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return path


def test_a_model_archive_unpacks(python: str, tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "manifest.json").write_text("{}")
    (model / "sub" / "heads.joblib").write_bytes(b"\0\1")
    archive = tmp_path / "job" / "model.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(pack_model(model))

    unpacked = unpack_model(archive.parent, tmp_path / "work")
    assert (unpacked / "manifest.json").read_text() == "{}"
    assert (unpacked / "sub" / "heads.joblib").read_bytes() == b"\0\1"


@pytest.mark.parametrize("kind", ["parent", "absolute", "symlink", "setuid"])
def test_an_unsafe_member_is_refused_or_defused(python: str, kind: str, tmp_path: Path) -> None:
    member = tarfile.TarInfo({"parent": "../evil", "absolute": "/tmp/evil"}.get(kind, "evil"))
    if kind == "symlink":
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        member.size = 1
    member.mode = 0o4777 if kind == "setuid" else 0o644
    archive = _archive(tmp_path / "model.tar.gz", member)
    work = tmp_path / "work"
    if kind == "setuid":
        assert (unpack_model(archive, work) / "evil").stat().st_mode & 0o7777 == 0o755
        return
    if kind == "absolute" and python == "data filter":
        # The data filter strips the leading slash: the file lands inside the target.
        assert (unpack_model(archive, work) / "tmp" / "evil").is_file()
    else:
        with pytest.raises(tarfile.TarError):
            unpack_model(archive, work)
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil").exists()
