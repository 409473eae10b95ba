from __future__ import annotations

from reviewbot.config import defaults
from reviewbot.diffparse import parse_diff
from reviewbot.privacy.redact import MASK, redact
from reviewbot.reviewers import ReviewContext
from reviewbot.reviewers.secrets import SecretsReviewer

AWS_ID = 'AKIAIOSFODNN7EXAMPLE'
AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
GH_TOKEN = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'
PEM_BODY = 'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0'

# One planted secret of each kind; the value that must never be printed is the second element.
PLANTED = [
    (f'aws_access_key_id = "{AWS_ID}"', AWS_ID),
    (f'aws_secret_access_key = "{AWS_SECRET}"', AWS_SECRET),
    (f'token = "{GH_TOKEN}"', GH_TOKEN),
    ('gitlab = "glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm"', 'glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm'),
    ('slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"',
     'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'),
    ('stripe = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'),
    ('DB = "postgres://app:S3cr3tPassw0rd!@db.internal:5432/app"', 'S3cr3tPassw0rd!'),
    ('password = "correct-horse-battery-staple"', 'correct-horse-battery-staple'),
    ('jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.'
     'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"', 'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'),
    ('api_key = "q8Zr3LmP0xW9vT2kB7nY5cJ4hF6gD1sA"', 'q8Zr3LmP0xW9vT2kB7nY5cJ4hF6gD1sA'),
]


def _diff_adding(lines: list[str], path: str = 'settings.py') -> bytes:
    body = ''.join(f'+{ln}\n' for ln in lines)
    return (f'diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n'
            f'@@ -0,0 +1,{len(lines)} @@\n{body}').encode()


def _review(lines: list[str]):
    diff = parse_diff(_diff_adding(lines))
    ctx = ReviewContext(config=defaults(), read_new_file=lambda p: None)
    return SecretsReviewer().review(diff.files, ctx)


def test_redact_masks_every_planted_kind():
    text = '\n'.join(line for line, _ in PLANTED)
    redacted, count = redact(text)
    for line, value in PLANTED:
        assert value not in redacted, line
    assert count >= len(PLANTED)
    assert MASK in redacted


def test_redact_masks_whole_pem_block_and_keeps_code():
    text = ('def load():\n    return 1\n-----BEGIN RSA PRIVATE KEY-----\n'
            f'{PEM_BODY}\n-----END RSA PRIVATE KEY-----\nx = compute(a, b)\n')
    redacted, count = redact(text)
    assert PEM_BODY not in redacted and 'BEGIN RSA' not in redacted
    assert 'def load():' in redacted and 'x = compute(a, b)' in redacted
    assert count == 1


def test_plain_code_is_not_redacted():
    code = ('def handler(request):\n    user = request.user\n'
            '    return render(request, "index.html", {"user": user})\n')
    assert redact(code) == (code, 0)


def test_findings_for_aws_github_pem_with_values_masked():
    lines = [f'AWS_KEY = "{AWS_ID}"', f'GITHUB = "{GH_TOKEN}"', 'KEY = """',
             '-----BEGIN RSA PRIVATE KEY-----', PEM_BODY, '-----END RSA PRIVATE KEY-----', '"""']
    result = _review(lines)
    cats = {(f.line, f.category) for f in result.findings}
    assert (1, 'secret/aws-access-key') in cats
    assert (2, 'secret/github-token') in cats
    assert (4, 'secret/private-key') in cats
    assert all(f.severity.value == 'error' for f in result.findings)
    for f in result.findings:
        for secret in (AWS_ID, GH_TOKEN, PEM_BODY):
            assert secret not in f.message and secret not in f.anchored_code


def test_clean_code_gives_no_findings():
    assert _review(['import os', 'TIMEOUT = 30', 'def f(x):', '    return x + 1']).findings == []


def test_public_ip_only_for_globally_routable_addresses():
    """0.0.0.0 (every interface), link-local and shared addresses are nobody's public host; an
    address on the internet still is."""
    lines = ['app.run(host="0.0.0.0", port=8000)', 'META = "169.254.169.254"', 'NAT = "100.64.0.1"',
             'BIND = ("0.0.0.0:8080")', 'UPSTREAM = "8.8.4.4"']
    cats = [(f.line, f.category) for f in _review(lines).findings]
    assert cats == [(5, 'secret/public-ip-ipv4')]
