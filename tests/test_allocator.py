"""The allocator tuning is on by default on glibc Linux and can be switched off by the environment."""

import os
import subprocess
import sys

import pytest

import thalweg as tw
from thalweg import allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_tuned_at_import_and_idempotent():
    assert allocator.is_tuned() == allocator.tune_allocator()
    assert tw.ones(3).sum().item() == 3.0


def test_env_var_switches_it_off():
    code = "import thalweg.allocator as a, thalweg; print(a.is_tuned())"
    env = {**os.environ, "THALWEG_MALLOC_TUNING": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"
