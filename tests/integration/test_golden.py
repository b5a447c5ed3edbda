"""Golden data directories (tests/golden/): data written by released
formats must load forever with the same contents."""
import os
import shutil
import subprocess

import pytest

from conftest import LODE_BIN, ROOT, Server

pytestmark = pytest.mark.lode_only

GOLDEN = os.path.join(ROOT, "tests", "golden")


def start_copy(tmp_path, name):
    shutil.copytree(os.path.join(GOLDEN, name, "data"), str(tmp_path / "data"))
    s = Server("lode", dir=str(tmp_path))
    return s.start()


def test_v1_strings(tmp_path):
    s = start_copy(tmp_path, "v1-strings")
    try:
        c = s.client()
        assert c.get("str") == b"hello world"
        assert c.get("int") is None
        assert c.get("big") == b"x" * 3000
        assert c.getbit("bits", 77) == 1 and c.bitcount("bits") == 1
        assert c.execute_command("PEXPIRETIME", "ttl") == 4102444800000
        assert c.get("f") == b"1.5"
        assert s.client(db=2).get("other") == b"db2"
        assert c.execute_command("DEBUG", "DIGEST") == b"7a77de8236010f1f62b2816a635852a8ef188a1a"
        c.close()
    finally:
        s.stop()
        s.cleanup()
    # the offline reader too (on another copy: LMDB readers register in the
    # checkpoint's lock file, which must not appear in the source tree)
    other = tmp_path / "other"
    shutil.copytree(os.path.join(GOLDEN, "v1-strings", "data"), str(other))
    inspect = os.path.join(os.path.dirname(LODE_BIN), "lode-inspect")
    r = subprocess.run([inspect, str(other), "verify"], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
