"""Dagster objects only: assets, checks, jobs, schedules and sensors. Logic lives in the modules above."""
