"""The CLI's front door: every option explained, and every mistake a user can make answered with
exit code 2 and one line that says what to fix (never a traceback)."""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

import pytest

import prodcat_cli.cli as cli_module
from prodcat_cli.cli import build_parser
from prodcat_cli.cli import main as cli

REPO = Path(__file__).resolve().parents[2]


def _parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every command's parser by its full name (`pipeline start`), the top level included."""
    found = {parser.prog: parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.update(_parsers(sub))
    return found


def test_every_command_and_option_has_help() -> None:
    undocumented = []
    for prog, parser in _parsers(build_parser()).items():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                undocumented += [
                    f"{prog} {c.dest}" for c in action._choices_actions if not (c.help or "")
                ]
            elif not action.help:
                undocumented.append(f"{prog} {'/'.join(action.option_strings) or action.dest}")
    assert undocumented == []


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        cli(["--help"])
    shown = capsys.readouterr().out
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) >= {"train", "evaluate", "local", "pipeline", "records"}
    for name in commands.choices:
        assert f"\n    {name} " in shown or f"\n    {name}\n" in shown, name


def test_pipeline_run_local_is_not_called_required() -> None:
    run = _parsers(build_parser())["prodcat pipeline run"]
    local = next(a for a in run._actions if "--local" in a.option_strings)
    assert local.help and "required" not in local.help


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI expecting a usage error; return its single line."""
    try:
        code = cli(argv)
    except SystemExit as exit_:  # argparse's own errors exit from inside parse_args
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


TRAIN = ["train", "--data", "nowhere", "--model-dir", "nowhere-model"]


def test_a_hyperparameter_without_a_value_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    line = _error(capsys, [*TRAIN, "--hp", "text_c"])
    assert "'text_c' is not NAME=VALUE" in line and "e5_weight" in line


def test_an_unknown_hyperparameter_lists_the_valid_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = _error(capsys, [*TRAIN, "--hp", "bogus=1"])
    assert "unknown hyperparameter 'bogus'" in line
    for name in ("text_c", "image_c", "folds", "seed"):
        assert name in line


def test_a_hyperparameter_of_the_wrong_type_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    line = _error(capsys, [*TRAIN, "--hp", "text_c=abc"])
    assert "text_c='abc': not a valid float (default 0.5)" in line
    assert "folds='2.5': not a valid int" in _error(capsys, [*TRAIN, "--hp", "folds=2.5"])


def test_sample_catalog_refuses_a_file_and_an_empty_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "catalog.csv"
    existing.write_text("not a directory")
    assert "is a file: give a directory" in _error(
        capsys, ["sample-catalog", "--out", str(existing)]
    )
    for bad in ("0", "-3", "two"):
        line = _error(capsys, ["sample-catalog", "--out", str(tmp_path / "c"), "--per-class", bad])
        assert "--per-class" in line
    assert not (tmp_path / "c").exists()


def test_sample_catalog_writes_a_held_out_split_of_other_listings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = tmp_path / "train", tmp_path / "test"
    argv = ["sample-catalog", "--out", str(train), "--per-class", "2", "--held-out", str(test)]
    assert cli([*argv, "--held-out-per-class", "1"]) == 0

    def product_ids(path: Path) -> set[str]:
        with path.open(encoding="utf-8") as f:
            return {row["productid"] for row in csv.DictReader(f)}

    train_ids, test_ids = product_ids(train / "X_train.csv"), product_ids(test / "X_test.csv")
    assert len(train_ids) == 2 * 27 and len(test_ids) == 27
    assert not train_ids & test_ids
    assert not list(test.glob("X_train.csv")), "the held-out directory holds only its split"
    assert "--held-out must be another directory" in _error(
        capsys, ["sample-catalog", "--out", str(train), "--held-out", str(tmp_path / "train/")]
    )


def test_pipeline_start_checks_the_stage_before_calling_aws(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # cdk.json defines the stages
    line = _error(capsys, ["pipeline", "start", "--stage", "nosuch"])
    assert line == (
        "prodcat pipeline start: error: --stage 'nosuch' is not a stage in cdk.json "
        "(known: dev, prod)"
    )


def test_pipeline_start_without_a_region_says_which_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(REPO)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    line = _error(capsys, ["pipeline", "start", "--stage", "dev"])
    assert "set AWS_REGION" in line and "dev" in line


def test_the_docstring_names_every_command() -> None:
    doc = cli_module.__doc__ or ""
    commands = [prog.removeprefix("prodcat ") for prog in _parsers(build_parser())]
    missing = [c for c in commands if c != "prodcat" and c not in doc]
    assert not missing, missing


def test_python_dash_m_prodcat_is_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prodcat", "--help"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("usage: prodcat")
