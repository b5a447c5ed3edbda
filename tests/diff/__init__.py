"""Differential test suite: lode-server vs redis-server (see harness.py)."""
