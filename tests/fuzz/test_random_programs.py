"""Parity fuzzer: random programs of 3-8 ops, in float64 and float32, against torch (values and all gradients).

The machinery and the op table are in ``programs.py``.  CI runs a fixed,
derandomized set of ``THALWEG_FUZZ_EXAMPLES`` programs (150 by default), plus
every op of the table on its own; set the variable to thousands for a long
local run, or use ``python tests/fuzz/run_many.py N`` for a tally that does not
stop at the first disagreement.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from programs import OP_NAMES, OPS, Chooser, generate_and_run  # noqa: E402

EXAMPLES = int(os.environ.get("THALWEG_FUZZ_EXAMPLES", "150"))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data(), seed=st.integers(0, 2**32 - 1), double=st.booleans())
def test_random_programs_match_torch(data, seed, double):
    generate_and_run(Chooser(np.random.default_rng(seed), data), np.float64 if double else np.float32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", OP_NAMES)
def test_every_op_of_the_table_matches_torch(name, dtype):
    """Each op on its own (one or two steps from fresh inputs), a few seeds: the whole table is checked every run."""
    ran = 0
    for seed in range(4):
        program = generate_and_run(Chooser(np.random.default_rng(seed)), dtype, min_steps=1, max_steps=2,
                                   ops=[name])
        ran += len(program.steps)
    assert ran > 0, f"{name} never applied to random inputs"


def test_the_op_table_is_wide():
    assert len(OPS) >= 60
