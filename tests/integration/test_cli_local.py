"""The CLI where it meets a trained model and the local stack: evaluation refuses the training
data, and `prodcat local make-admin` promotes a user of the running stack from another shell."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from local_runtime.stack import STATE_FILE, LocalStack, write_state
from prodcat_cli.cli import main as cli


def test_evaluating_on_the_training_data_is_refused(
    sample_data: Path, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "metrics.json"
    argv = ["--quiet", "evaluate", "--model-dir", str(model_dir), "--data", str(sample_data)]
    assert cli([*argv, "--output", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("prodcat evaluate: error: ") and len(error.splitlines()) == 1
    assert "trained on" in error and "--held-out" in error
    assert not out.exists()


def test_make_admin_adds_a_signed_up_user_to_the_admins_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # STATE_FILE is relative: this test's own .work/local
    assert cli(["local", "make-admin", "a@example.com"]) == 2
    assert "no local stack is running" in capsys.readouterr().err

    with LocalStack(deploy_model=False, log_file=tmp_path / "api.log") as stack:
        r = stack.resources
        assert r is not None
        write_state(r)
        assert STATE_FILE.is_file()
        cognito = boto3.client("cognito-idp")
        cognito.admin_create_user(UserPoolId=r.user_pool_id, Username="seller@example.com")

        # Run as a user would, in a shell without the stack's AWS variables.
        for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION", "AWS_REGION"):
            monkeypatch.delenv(name, raising=False)
        assert cli(["local", "make-admin", "seller@example.com"]) == 0
        assert "seller@example.com is an admin now" in capsys.readouterr().out
        assert cli(["local", "make-admin", "nobody@example.com"]) == 2
        assert "sign up first" in capsys.readouterr().err

        monkeypatch.undo()
        groups = cognito.admin_list_groups_for_user(
            UserPoolId=r.user_pool_id, Username="seller@example.com"
        )["Groups"]
        assert [g["GroupName"] for g in groups] == ["admins"]
