"""Scenario files, user scenarios, the initial world they build, and replaying schedules on it."""
