"""Seed-driven random differential sequences (gen.py). Each seed is one
test; on failure the message names the seed and step. Every third seed
runs in RESP3. LODE_DIFF_SEEDS / LODE_DIFF_SEED_BASE choose the seeds;
LODE_DIFF_STEPS the sequence length."""
import os

import pytest

import gen

N = int(os.environ.get("LODE_DIFF_SEEDS", "24"))
BASE = int(os.environ.get("LODE_DIFF_SEED_BASE", "1"))
STEPS = int(os.environ.get("LODE_DIFF_STEPS", "250"))


@pytest.mark.parametrize("seed", range(BASE, BASE + N))
def test_random_sequence(diff, seed):
    resp3 = seed % 3 == 0
    diff.begin("random seed=%d%s (rerun: LODE_DIFF_SEED_BASE=%d LODE_DIFF_SEEDS=1)"
               % (seed, " RESP3" if resp3 else "", seed), resp3)
    base = diff.label
    # Keys whose TTL has passed stay in the keyspace until something looks
    # at them or the active expiry cycle samples them. The cycle runs on its
    # own timer in each server, so DBSIZE/KEYS would race; with it off both
    # servers must agree exactly on lazy expiry.
    diff.run_line([b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"])
    try:
        for i, cmd in enumerate(gen.Gen(seed).sequence(STEPS)):
            diff.label = "%s step %d" % (base, i)
            diff.run_line(cmd)
        diff.label = "%s final state" % base
        for db in (b"0", b"1"):
            diff.run_line([b"SELECT", db])
            diff.dump()
    finally:
        diff.run_line([b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1"])
        diff.end()
