"""Seed-driven random differential sequences (gen.py): strings, bitmaps,
keyspace and expiry commands. Each seed is one test; on failure the message
names the seed and step. Every third seed runs in RESP3. LODE_DIFF_SEEDS /
LODE_DIFF_SEED_BASE choose the seeds; LODE_DIFF_STEPS the sequence length.

Keys whose TTL has passed stay in the keyspace until something looks at
them or the active expiry cycle samples them. The cycle runs on its own
timer in each server, so DBSIZE/KEYS would race; with it off both servers
must agree exactly on lazy expiry."""
import pytest

import gen
from harness import random_seeds, random_steps, run_random

STEPS = random_steps()


@pytest.mark.parametrize("seed", random_seeds("LODE_DIFF_SEEDS", 24))
def test_random_sequence(diff, seed):
    run_random(diff, "strings", seed, "LODE_DIFF_SEEDS", gen.Gen(seed).sequence(STEPS),
               dbs=(b"0", b"1"), before=[[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"]],
               after=[[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1"]])
