"""Redaction precision: digests, commit ids and names of secrets are not secrets (they were masked
before sending, degrading cloud reviews), while every planted secret is still masked."""
from __future__ import annotations

import pytest

from benchmarks.redaction_precision import LOOKALIKES, PLANTED
from reviewbot.privacy import layers, payload
from reviewbot.privacy.redact import redact, scan_line


@pytest.mark.parametrize('line', LOOKALIKES)
def test_a_look_alike_is_sent_as_it_is(line):
    red, n = redact(line)
    assert (red, n) == (line, 0)
    assert layers.own_redact_line(line) == (line, 0)
    assert layers.detect_secrets_lines(line) == set()
    assert scan_line(line) == []  # nor is it a finding of the secrets reviewer


@pytest.mark.parametrize('line', PLANTED)
def test_a_planted_secret_is_still_masked(line):
    red, n = redact(line)
    red, m = layers.own_redact_line(red)
    assert n + m >= 1 and payload.MASK in red
