"""Seed-driven random differential sequences for sorted sets (gen_zset.py).
Each seed is one test; on failure the message names the seed and step.
Every third seed runs in RESP3. LODE_DIFF_ZSET_SEEDS / LODE_DIFF_SEED_BASE
choose the seeds; LODE_DIFF_STEPS the sequence length."""
import pytest

import gen_zset
from harness import random_seeds, random_steps, run_random

STEPS = random_steps()


@pytest.mark.parametrize("seed", random_seeds("LODE_DIFF_ZSET_SEEDS", 24))
def test_random_zset_sequence(diff, seed):
    run_random(diff, "zset", seed, "LODE_DIFF_ZSET_SEEDS", gen_zset.Gen(seed).sequence(STEPS))
