"""Seed-driven random differential sequences of hash commands (gen_hash.py).
Each seed is one test; on failure the message names the seed and step.
Every third seed runs in RESP3. LODE_DIFF_HASH_SEEDS / LODE_DIFF_SEED_BASE
choose the seeds; LODE_DIFF_HASH_STEPS the sequence length."""
import os

import pytest

import gen_hash

N = int(os.environ.get("LODE_DIFF_HASH_SEEDS", "16"))
BASE = int(os.environ.get("LODE_DIFF_SEED_BASE", "1"))
STEPS = int(os.environ.get("LODE_DIFF_HASH_STEPS", "300"))


@pytest.mark.parametrize("seed", range(BASE, BASE + N))
def test_random_hash_sequence(diff, seed):
    resp3 = seed % 3 == 0
    diff.begin("random hash seed=%d%s (rerun: LODE_DIFF_SEED_BASE=%d LODE_DIFF_HASH_SEEDS=1)"
               % (seed, " RESP3" if resp3 else "", seed), resp3)
    base = diff.label
    try:
        for i, cmd in enumerate(gen_hash.Gen(seed).sequence(STEPS)):
            diff.label = "%s step %d" % (base, i)
            diff.run_line(cmd)
        diff.label = "%s final state" % base
        diff.dump()
    finally:
        diff.end()
