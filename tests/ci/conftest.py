from __future__ import annotations

# The world of a pull request job (fake GitHub, a legitimate and an attacker's API), shared by the
# trust tests.
from tests.ci.test_ci_trust import world  # noqa: F401

# The official SARIF 2.1.0 schema validator, shared with the reporter tests.
from tests.reporters.test_sarif import official  # noqa: F401
