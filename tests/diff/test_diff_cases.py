"""Handwritten differential cases (cases/*.txt): each case is one test, run
in RESP2 and, when tagged +resp3, again after HELLO 3."""
import pytest

import harness

CASES = harness.load_cases()
# Case files that need a capability Lodestore does not have yet. They are
# reported as skipped with the reason (never silently), and the entry goes
# when the capability lands.
PENDING = {
}
PARAMS = []
for c in CASES:
    stem = c.path.rsplit("/", 1)[-1][:-4]
    marks = [pytest.mark.skip(reason=PENDING[stem])] if stem in PENDING else []
    if c.resp2:
        PARAMS.append(pytest.param(c, False, id="%s::%s" % (stem, c.name), marks=marks))
    if c.resp3:
        PARAMS.append(pytest.param(c, True, id="%s::%s[resp3]" % (stem, c.name), marks=marks))


@pytest.mark.parametrize("case,resp3", PARAMS)
def test_case(diff, case, resp3):
    diff.run_case(case, resp3)
