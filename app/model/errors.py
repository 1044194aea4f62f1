"""The model's input errors: each names what was wrong (the CLI prints it and exits 2, the web
answers 4xx). A module of their own so the CLI can catch them without importing the model."""
from __future__ import annotations


class ModelInputError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownScenario(ModelInputError):
    def __init__(self, scenario: str, valid: list[str]) -> None:
        super().__init__(f"unknown scenario {scenario!r}; the scenarios are: {', '.join(valid)}")
        self.scenario = scenario
        self.valid = valid


class UnknownCode(ModelInputError):
    def __init__(self, code: str, valid: list[str]) -> None:
        super().__init__(f"unknown code {code!r}; the codes are: {', '.join(valid)}")
        self.code = code
        self.valid = valid


class ScheduleError(ModelInputError):
    def __init__(self, position: int, reason: str, valid_prefix: str) -> None:
        super().__init__(f"schedule position {position}: {reason}")
        self.position = position
        self.reason = reason
        self.valid_prefix = valid_prefix
