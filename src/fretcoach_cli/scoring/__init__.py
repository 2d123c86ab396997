"""Scoring: pure functions from note events to per-note verdicts and session metrics."""
