"""Strict validation of parsed TOML against a small schema of frozen dataclasses.

The scenario schema (app/model/scenarios/scenario.py: SCHEMA) is a table per record: field -> (type,
required, constraints). Strict means no coercion (a "1" is not an int, a bool is not an int),
unknown fields are refused, and every problem is reported with its field path, in the words
pydantic uses, so a file's author reads the same messages as before. It replaces pydantic on
this path because importing pydantic and building the models took 90 ms of every command's
start-up (issue 12); the web layer still uses pydantic for its OpenAPI schema.
"""
from __future__ import annotations

import re
import types
import typing
from typing import Any

Loc = tuple[str | int, ...]
Error = tuple[Loc, str]

# C0 and C1 control characters but the tab, the new line and the carriage return; and DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_TYPE_WORDS = {int: "a valid integer", str: "a valid string", bool: "a valid boolean"}


def _literal_words(values: tuple[Any, ...]) -> str:
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _constraints(value: Any, rules: dict[str, Any], loc: Loc, errors: list[Error]) -> None:
    """ge/le/lt for numbers, min_length/max_length for strings and lists, pattern for strings (a
    list's "items" rules apply to each of its items)."""
    what = "String" if isinstance(value, str) else "List"
    unit = "character" if isinstance(value, str) else "item"
    for rule, bound in rules.items():
        if rule == "ge" and value < bound:
            errors.append((loc, f"Input should be greater than or equal to {bound}"))
        elif rule == "le" and value > bound:
            errors.append((loc, f"Input should be less than or equal to {bound}"))
        elif rule == "lt" and value >= bound:
            errors.append((loc, f"Input should be less than {bound}"))
        elif rule == "min_length" and len(value) < bound:
            errors.append((loc, f"{what} should have at least {bound} {unit}{'' if bound == 1 else 's'}"))
        elif rule == "max_length" and len(value) > bound:
            errors.append((loc, f"{what} should have at most {bound} {unit}{'' if bound == 1 else 's'}"))
        elif rule == "pattern" and not re.search(bound, value):
            errors.append((loc, f"String should match pattern '{bound}'"))


def _value(tp: Any, value: Any, rules: dict[str, Any], loc: Loc, schema: dict[type, Any],
           errors: list[Error]) -> Any:
    """The checked value (records built, lists converted item by item); errors appended."""
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if not isinstance(value, str) or value not in allowed:
            errors.append((loc, f"Input should be {_literal_words(allowed)}"))
            return None
        return value
    if origin is list:
        if not isinstance(value, list):
            errors.append((loc, "Input should be a valid list"))
            return None
        (item_type,) = typing.get_args(tp)
        items = [_value(item_type, v, rules.get("items", {}), (*loc, i), schema, errors) for i, v in enumerate(value)]
        _constraints(value, {k: v for k, v in rules.items() if k != "items"}, loc, errors)
        return items
    if origin in (typing.Union, types.UnionType):
        return _tagged(typing.get_args(tp), value, loc, schema, errors)
    if tp in schema:
        return _record(tp, value, loc, schema, errors)
    # Strict scalars: bool is a subclass of int in Python, but not an integer in a scenario file.
    if type(value) is not tp:
        errors.append((loc, f"Input should be {_TYPE_WORDS[tp]}"))
        return None
    if tp is str and (bad := _CONTROL.search(value)):
        # A NUL or an escape sequence in a title would reach logs, terminals and file names.
        errors.append((loc, f"String holds the control character U+{ord(bad.group()):04X}; text takes "
                            "printable characters, tabs and new lines only"))
        return None
    _constraints(value, rules, loc, errors)
    return value


def _tagged(records: tuple[type, ...], value: Any, loc: Loc, schema: dict[type, Any], errors: list[Error]) -> Any:
    """One of several records told apart by their "kind" field (a Literal), as pydantic's
    discriminated unions: the problems of the chosen one are named under its tag."""
    by_tag = {typing.get_args(schema[cls]["kind"][0])[0]: cls for cls in records}
    if not isinstance(value, dict) or "kind" not in value:
        errors.append((loc, "Unable to extract tag using discriminator 'kind'"))
        return None
    cls = by_tag.get(value["kind"]) if isinstance(value["kind"], str) else None
    if cls is None:
        errors.append((loc, f"Input tag {value['kind']!r} found using 'kind' does not match any of the "
                            f"expected tags: {', '.join(repr(t) for t in by_tag)}"))
        return None
    return _record(cls, value, (*loc, value["kind"]), schema, errors)


def _record(cls: type, raw: Any, loc: Loc, schema: dict[type, Any], errors: list[Error]) -> Any:
    if not isinstance(raw, dict):
        errors.append((loc, f"Input should be a valid dictionary or instance of {cls.__name__}"))
        return None
    fields = schema[cls]
    values: dict[str, Any] = {}
    before = len(errors)
    for name, (tp, required, rules) in fields.items():
        if name not in raw:
            if required:
                errors.append(((*loc, name), "Field required"))
            continue
        values[name] = _value(tp, raw[name], rules, (*loc, name), schema, errors)
    for name in raw:
        if name not in fields:
            errors.append(((*loc, name), "Extra inputs are not permitted"))
    if len(errors) != before:
        return None
    record = cls(**values)
    # A rule across the record's own fields (pydantic's model validator): its `invalid()` says why.
    invalid = getattr(record, "invalid", None)
    why = invalid() if invalid is not None else None
    if why:
        errors.append((loc, f"Value error, {why}"))
        return None
    return record


def validate(cls: type, raw: Any, schema: dict[type, Any]) -> tuple[Any, list[Error]]:
    """(the record, []) when ``raw`` fits ``cls``; (None, every problem found) otherwise."""
    errors: list[Error] = []
    record = _record(cls, raw, (), schema, errors)
    return record, errors
