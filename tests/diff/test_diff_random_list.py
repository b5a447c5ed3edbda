"""Seed-driven random differential sequences of list commands (gen_list.py).
Each seed is one test; every third seed runs in RESP3. LODE_DIFF_LIST_SEEDS /
LODE_DIFF_SEED_BASE choose the seeds, LODE_DIFF_STEPS the length."""
import pytest

import gen_list
from harness import random_seeds, random_steps, run_random

STEPS = random_steps()


@pytest.mark.parametrize("seed", random_seeds("LODE_DIFF_LIST_SEEDS", 24))
def test_random_list_sequence(diff, seed):
    run_random(diff, "list", seed, "LODE_DIFF_LIST_SEEDS", gen_list.Gen(seed).sequence(STEPS),
               after=[[b"CONFIG", b"SET", b"list-max-listpack-size", b"-2"]])
