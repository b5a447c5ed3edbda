"""Handwritten differential cases (cases/*.txt): each case is one test, run
in RESP2 and, when tagged +resp3, again after HELLO 3."""
import pytest

import harness

CASES = harness.load_cases()
PARAMS = []
for c in CASES:
    if c.resp2:
        PARAMS.append(pytest.param(c, False, id="%s::%s" % (c.path.rsplit("/", 1)[-1][:-4], c.name)))
    if c.resp3:
        PARAMS.append(pytest.param(c, True, id="%s::%s[resp3]" % (c.path.rsplit("/", 1)[-1][:-4],
                                                                   c.name)))


@pytest.mark.parametrize("case,resp3", PARAMS)
def test_case(diff, case, resp3):
    diff.run_case(case, resp3)
