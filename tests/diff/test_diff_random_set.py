"""Seed-driven random differential sequences of set commands (gen_set.py).
Each seed is one test; every third runs in RESP3. LODE_DIFF_SET_SEEDS /
LODE_DIFF_SEED_BASE choose the seeds, LODE_DIFF_STEPS the length."""
import pytest

import gen_set
from harness import random_seeds, random_steps, run_random

STEPS = random_steps()


@pytest.mark.parametrize("seed", random_seeds("LODE_DIFF_SET_SEEDS", 24))
def test_random_set_sequence(diff, seed):
    run_random(diff, "set", seed, "LODE_DIFF_SET_SEEDS", gen_set.Gen(seed).sequence(STEPS))
