"""Seed-driven random HyperLogLog sequences (gen_hll.py) against redis-server.
Each seed is one test; every third runs in RESP3. LODE_DIFF_HLL_SEEDS /
LODE_DIFF_SEED_BASE choose the seeds, LODE_DIFF_STEPS the length."""
import pytest

import gen_hll
import normalize
from harness import random_seeds, random_steps, run_random

STEPS = random_steps()


def test_pool_is_collision_free(diff):
    """The generator's premise: POOL's elements occupy distinct registers in
    both servers (so every estimate below is exact in both)."""
    for s in diff.sides:
        s.call(0, ["DEL", "pool"])
        s.call(0, ["PFADD", "pool"] + gen_hll.POOL)
        regs = normalize.parse(s.call(0, ["PFDEBUG", "GETREG", "pool"])).items()
        assert sum(1 for v in regs if v.val) == len(gen_hll.POOL), s.label
        s.call(0, ["DEL", "pool"])


@pytest.mark.parametrize("seed", random_seeds("LODE_DIFF_HLL_SEEDS", 24))
def test_random_hll_sequence(diff, seed):
    run_random(diff, "hll", seed, "LODE_DIFF_HLL_SEEDS", gen_hll.Gen(seed).sequence(STEPS),
               dbs=(b"0", b"1"))
