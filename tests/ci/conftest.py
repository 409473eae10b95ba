from __future__ import annotations

# The official SARIF 2.1.0 schema validator, shared with the reporter tests.
from tests.reporters.test_sarif import official  # noqa: F401
