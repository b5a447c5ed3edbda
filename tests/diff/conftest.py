"""Fixtures of the differential suite: one lode-server / redis-server pair
for the whole session (see harness.py for the environment switches)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


@pytest.fixture(scope="session")
def pair():
    p = harness.Pair().start()
    yield p
    p.stop()


@pytest.fixture
def diff(pair):
    """The pair, checked alive after the test (a crash fails the test that
    caused it; the dead server is restarted before the next test)."""
    pair.ensure_alive()
    yield pair
    if not all(s.alive() for s in pair.sides):
        pytest.fail("a server died during this test:\n" + "\n".join(
            s.server.read_log()[-3000:] for s in pair.sides if not s.alive()))
