"""One error family: every "bad input" error derives from harness.BadInput, is defined in
harness/errors.py, and reaches the user as one line with exit code 2."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import harness
from harness import errors
from tests.conftest import invoke

HARNESS = Path(harness.__file__).resolve().parent


#: Errors of errors.py that are not the user's input: a write that failed once work had started
#: (a full disk) is an OSError, exit code 74, and the run stays resumable.
NOT_BAD_INPUT = {"OutputError"}


@pytest.mark.parametrize("name", [n for n in errors.__all__ if n.endswith("Error") and n not in NOT_BAD_INPUT])
def test_every_error_is_bad_input_and_on_the_public_face(name):
    cls = getattr(errors, name)
    assert issubclass(cls, harness.BadInput) and issubclass(cls, ValueError)
    if name != "RunLockedError":  # raised by the core only, never by a plugin
        assert getattr(harness, name) is cls


def test_an_output_error_is_an_os_error_not_bad_input():
    assert issubclass(errors.OutputError, OSError) and not issubclass(errors.OutputError, errors.BadInput)
    assert (errors.EXIT_BAD_INPUT, errors.EXIT_OS_ERROR, errors.EXIT_INTERRUPTED) == (2, 74, 130)


EXCEPTION_BASES = {"BaseException", "Exception", "ValueError", "RuntimeError", "BadInput"}


def test_no_error_class_is_defined_outside_errors_py():
    """A new error class elsewhere would be a second family the CLI may not catch."""
    found = []
    for path in HARNESS.rglob("*.py"):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if bases & EXCEPTION_BASES or node.name.endswith("Error"):
                    found.append(f"{path.relative_to(HARNESS)}:{node.lineno} {node.name}")
    # the one exception of the harness that is not an error of the input: a unit's time limit
    assert [f.split()[-1] for f in found] == ["UnitTimeout"], found


def test_one_line_folds_lines_names_the_type_and_cuts():
    exc = ValueError("first line\n\n   second line  \nthird")
    assert errors.one_line(exc) == "first line second line third"
    assert errors.one_line(exc, with_type=True) == "ValueError: first line second line third"
    assert errors.one_line(exc, limit=12) == "first lin..."
    assert errors.one_line(KeyboardInterrupt(), with_type=True) == "KeyboardInterrupt"


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--workers", "0"], "--workers must be a positive integer, got 0"),
        (["run", "--limit", "0"], "--limit must be a positive integer, got 0"),
        (["run", "-p", "arima"], "--param 'arima': expected MODEL.NAME=VALUE"),
    ],
)
def test_option_mistakes_are_option_errors_on_one_line(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(args)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("rnnbench: error: ") and message in line
    assert list(tmp_path.iterdir()) == []
