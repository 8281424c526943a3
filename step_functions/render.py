"""The definition as something other than CloudFormation runs it (moto's interpreter in the tests,
later the local stack): placeholders filled the way DefinitionSubstitutions fill them, and
task resources swapped for stand-ins where the runner lacks the real integration.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from step_functions.settings import PLACEHOLDERS

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def substitute(definition: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """Every ``${Name}`` replaced by its value, as CloudFormation does; none may be left over."""
    missing = set(PLACEHOLDERS) - set(values)
    if missing:
        raise KeyError(f"no value for placeholders {sorted(missing)}")
    text = json.dumps(definition)
    for name in PLACEHOLDERS:
        # The value lands inside JSON strings: escape it as JSON would.
        text = text.replace("${" + name + "}", json.dumps(values[name])[1:-1])
    leftover = set(_PLACEHOLDER.findall(text))
    if leftover:
        raise KeyError(f"placeholders without a value: {sorted(leftover)}")
    rendered: dict[str, Any] = json.loads(text)
    return rendered


def iter_states(definition: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, state) for every state, those inside Parallel branches and Map processors too."""
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from iter_states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from iter_states(state[key])


def task_resources(definition: Mapping[str, Any]) -> dict[str, str]:
    """state name -> Resource, for every Task state."""
    return {
        name: state["Resource"]
        for name, state in iter_states(definition)
        if state["Type"] == "Task"
    }


def replace_resources(
    definition: Mapping[str, Any], replacements: Mapping[str, str]
) -> dict[str, Any]:
    """A copy with every Task whose Resource is a key of `replacements` pointing at its value
    instead; Parameters, ResultSelector, Retry and Catch stay as they are."""
    swapped = copy.deepcopy(dict(definition))
    for _, state in iter_states(swapped):
        if state["Type"] == "Task" and state["Resource"] in replacements:
            state["Resource"] = replacements[state["Resource"]]
    return swapped
