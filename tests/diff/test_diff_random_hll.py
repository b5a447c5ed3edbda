"""Seed-driven random HyperLogLog sequences (gen_hll.py) against redis-server.
Each seed is one test; every third runs in RESP3. LODE_DIFF_HLL_SEEDS /
LODE_DIFF_SEED_BASE choose the seeds, LODE_DIFF_STEPS the length."""
import os

import pytest

import gen_hll
import normalize

N = int(os.environ.get("LODE_DIFF_HLL_SEEDS", "24"))
BASE = int(os.environ.get("LODE_DIFF_SEED_BASE", "1"))
STEPS = int(os.environ.get("LODE_DIFF_STEPS", "250"))


def test_pool_is_collision_free(diff):
    """The generator's premise: POOL's elements occupy distinct registers in
    both servers (so every estimate below is exact in both)."""
    for s in diff.sides:
        s.call(0, ["DEL", "pool"])
        s.call(0, ["PFADD", "pool"] + gen_hll.POOL)
        regs = normalize.parse(s.call(0, ["PFDEBUG", "GETREG", "pool"])).items()
        assert sum(1 for v in regs if v.val) == len(gen_hll.POOL), s.label
        s.call(0, ["DEL", "pool"])


@pytest.mark.parametrize("seed", range(BASE, BASE + N))
def test_random_hll_sequence(diff, seed):
    resp3 = seed % 3 == 0
    diff.begin("random hll seed=%d%s (rerun: LODE_DIFF_SEED_BASE=%d LODE_DIFF_HLL_SEEDS=1)"
               % (seed, " RESP3" if resp3 else "", seed), resp3)
    base = diff.label
    try:
        for i, cmd in enumerate(gen_hll.Gen(seed).sequence(STEPS)):
            diff.label = "%s step %d" % (base, i)
            diff.run_line(cmd)
        diff.label = "%s final state" % base
        for db in (b"0", b"1"):
            diff.run_line([b"SELECT", db])
            diff.dump()
    finally:
        diff.end()
