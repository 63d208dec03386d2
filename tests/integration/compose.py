"""Load a compose file as a Compose client does, without one: YAML, interpolation, schema.

Interpolation follows the Compose Specification (``12-interpolation.md``): ``$$`` is a
literal ``$``; ``$NAME`` and ``${NAME}`` are replaced (by "" when unset); ``${NAME:-d}`` /
``${NAME-d}`` default when unset or empty / unset; ``${NAME:?msg}`` / ``${NAME?msg}`` fail
when unset or empty / unset; ``${NAME:+a}`` / ``${NAME+a}`` substitute ``a`` when set (and
non-empty); defaults and messages may nest. Only values are interpolated, never keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA = Path(__file__).resolve().parent / "compose-spec" / "compose-spec.json"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """What a Compose client reports before it does anything else."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$":
            out.append(text[i])
            i += 1
        elif text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            out.append(_substitute(text[i + 2 : end], env))
            i = end + 1
        elif match := NAME.match(text, i + 1):
            out.append(env.get(match.group(), ""))
            i = match.end()
        else:  # not a variable: kept as it is
            out.append("$")
            i += 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise InterpolationError(f"invalid interpolation format: {text!r}")


def _substitute(body: str, env: Mapping[str, str]) -> str:
    match = NAME.match(body)
    if match is None:
        raise InterpolationError(f"invalid interpolation format: ${{{body}}}")
    name, rest = match.group(), body[match.end() :]
    value = env.get(name)
    if not rest:
        return value or ""
    operator = next((op for op in OPERATORS if rest.startswith(op)), None)
    if operator is None:
        raise InterpolationError(f"invalid interpolation format: ${{{body}}}")
    argument = rest[len(operator) :]
    missing = value is None or (operator.startswith(":") and value == "")
    if operator.endswith("-"):
        return interpolate(argument, env) if missing else str(value)
    if operator.endswith("?"):
        if missing:
            message = interpolate(argument, env)
            raise InterpolationError(f"required variable {name} is missing a value: {message}")
        return str(value)
    return "" if missing else interpolate(argument, env)  # the "+" forms


def interpolate_values(node: Any, env: Mapping[str, str]) -> Any:
    """Every string value of a loaded YAML document, interpolated; keys stay as they are."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolate_values(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_values(value, env) for value in node]
    return node


def load(path: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The compose file as a client sees it: parsed, interpolated, checked against the spec."""
    document = interpolate_values(yaml.safe_load(path.read_text(encoding="utf-8")), env)
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(document)
    assert isinstance(document, dict)
    return document
