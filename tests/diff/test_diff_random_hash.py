"""Seed-driven random differential sequences of hash commands (gen_hash.py).
Each seed is one test; on failure the message names the seed and step.
Every third seed runs in RESP3. LODE_DIFF_HASH_SEEDS / LODE_DIFF_SEED_BASE
choose the seeds; LODE_DIFF_HASH_STEPS the sequence length."""
import pytest

import gen_hash
from harness import random_seeds, random_steps, run_random

STEPS = random_steps(300, "LODE_DIFF_HASH_STEPS")


@pytest.mark.parametrize("seed", random_seeds("LODE_DIFF_HASH_SEEDS", 16))
def test_random_hash_sequence(diff, seed):
    run_random(diff, "hash", seed, "LODE_DIFF_HASH_SEEDS", gen_hash.Gen(seed).sequence(STEPS))
