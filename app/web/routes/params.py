"""The query parameters every state route takes, declared once (with their OpenAPI text)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Query

Code = Annotated[str, Query(description="old, new, or a variant of the scenario")]
Schedule = Annotated[str, Query(description="the schedule: one CPU digit per step, at most 500")]
Prefix = Annotated[str, Query(description="explore only from the state after this schedule (optional)")]
