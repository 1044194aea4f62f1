"""The query parameters every state route takes, declared once (with their OpenAPI text)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Query

# The patterns are documentation for clients and fuzzers (schemathesis generates from them), not
# validation: a code or schedule outside them gets the model's named 4xx (unknown-code, or
# bad-schedule with its position and longest valid prefix), not a generic validation error.
CODE_PATTERN = r"^[a-z][a-z0-9-]{0,63}$"
SCHEDULE_PATTERN = r"^[1-9]{0,500}$"
SIDE_PATTERN = CODE_PATTERN.removesuffix("$") + ":" + SCHEDULE_PATTERN.removeprefix("^")

Code = Annotated[str, Query(description="old, new, or a variant of the scenario",
                            json_schema_extra={"pattern": CODE_PATTERN})]
Schedule = Annotated[str, Query(description="the schedule: one CPU digit per step, at most 500",
                                json_schema_extra={"pattern": SCHEDULE_PATTERN})]
Prefix = Annotated[str, Query(description="explore only from the state after this schedule (optional)",
                              json_schema_extra={"pattern": SCHEDULE_PATTERN})]
