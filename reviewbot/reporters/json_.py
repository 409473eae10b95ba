"""`--format json`: the report as versioned JSON (schema: docs/report-json.md, reviewbot/data/report.schema.json).

Read it back with reviewbot.core.Report.from_dict, e.g. in the CI job that posts a review computed
by another job.
"""
from __future__ import annotations

import json

from reviewbot.core import Report


def render(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2) + '\n'
