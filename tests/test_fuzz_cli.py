"""A small, bounded version of benchmarks/fuzz_cli.py: mutated diffs through the real CLI entry point
never raise, never leave {0, 1, 2}, and an input error is one clean line."""
from __future__ import annotations

from benchmarks.fuzz_cli import fuzz


def test_mutated_diffs_exit_0_1_or_2_without_a_traceback():
    result = fuzz(cases=400, seed=2026, sample=3, quiet=True)
    assert result['failures'] == []
    assert set(result['exit_codes_in_process']) <= {'0', '1', '2'}
    assert set(result['exit_codes_in_process']) >= {'0', '2'}  # the mutations reach both outcomes
