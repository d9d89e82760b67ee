"""keep_freed_memory: training steps reuse the pages of freed activations."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from audiofsl.runs.allocator import uses_glibc
from audiofsl.runs.results import experiment_settings

# A training step whose activations exceed glibc's largest mmap threshold (32 MB): Conv4's first
# block on 16 log-mel maps of 128 x 157 is 82 MB. By default each step maps them anew and faults
# their pages in again; with the setting later steps reuse the pages of the step before.
_SCRIPT = """
import json, resource, sys, torch
torch.set_num_threads(1)
from audiofsl.encoders import Conv4
from audiofsl.runs.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
encoder, features = Conv4(pool=2), torch.randn(16, 1, 128, 157)
faults = []
for _ in range(8):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    encoder(features).sum().backward()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "faults": faults}))
"""

glibc_only = pytest.mark.skipif(not uses_glibc(), reason="mallopt is glibc's")


def _page_faults(mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, mode], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc_only
def test_a_freed_tensor_is_reused_without_page_faults():
    default, kept = _page_faults("default"), _page_faults("keep")
    assert kept["applied"] is True
    # The first steps fault their memory in either way (the heap grows to its peak); then the
    # kept process has steps that fault no page, the default one faults over 80 MB every step.
    assert min(default["faults"][1:]) > 20_000, default
    assert min(kept["faults"][1:]) < 1_000, kept


def test_the_setting_does_not_split_runs_in_results():
    with_setting = {"seed": 0, "keep_freed_memory": True, "method": {"lr": 0.1}}
    without = {"seed": 1, "method": {"lr": 0.1}}
    assert experiment_settings(with_setting) == experiment_settings(without)
