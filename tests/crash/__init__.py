"""Crash suite: kill -9 under load, torn and corrupt WAL records, the data
directory lock (see test_crash.py)."""
