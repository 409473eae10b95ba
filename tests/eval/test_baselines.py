"""The eval's naive single-prompt baseline (eval/baselines.py) runs on a real model."""
from __future__ import annotations

import sys

import pytest

from reviewbot.diffparse import parse_diff
from reviewbot.errors import ModelError
from tests.conftest import REPO_ROOT
from tests.reviewers.test_model import NEW_APP, OLD_APP, TINY, make_diff

sys.path.insert(0, str(REPO_ROOT / 'eval'))
import baselines


def test_naive_baseline_runs_on_the_tiny_model():
    from reviewbot.engine import load_model
    try:
        tiny = load_model(TINY)
    except ModelError as e:
        pytest.skip(f'{TINY} not exported here: {e}')
    files = parse_diff(make_diff('app/db.py', OLD_APP, NEW_APP)).files
    findings = baselines.naive_review(files, tiny, max_new_tokens=24)
    assert all(f.reviewer == 'model-naive' for f in findings)
