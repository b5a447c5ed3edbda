"""Seed-driven random differential sequences of set commands (gen_set.py).
Each seed is one test; every third runs in RESP3. LODE_DIFF_SET_SEEDS /
LODE_DIFF_SEED_BASE choose the seeds, LODE_DIFF_STEPS the length."""
import os

import pytest

import gen_set

N = int(os.environ.get("LODE_DIFF_SET_SEEDS", "24"))
BASE = int(os.environ.get("LODE_DIFF_SEED_BASE", "1"))
STEPS = int(os.environ.get("LODE_DIFF_STEPS", "250"))


@pytest.mark.parametrize("seed", range(BASE, BASE + N))
def test_random_set_sequence(diff, seed):
    resp3 = seed % 3 == 0
    diff.begin("random set seed=%d%s (rerun: LODE_DIFF_SEED_BASE=%d LODE_DIFF_SET_SEEDS=1)"
               % (seed, " RESP3" if resp3 else "", seed), resp3)
    base = diff.label
    try:
        for i, cmd in enumerate(gen_set.Gen(seed).sequence(STEPS)):
            diff.label = "%s step %d" % (base, i)
            diff.run_line(cmd)
        diff.label = "%s final state" % base
        diff.dump()
    finally:
        diff.end()
