"""How many benign lines the cloud payload's redaction masks (layer 1: the secrets reviewer's eager
redactor; layer 2: the payload's own patterns; layer 3: detect-secrets' file scanner), on a corpus
of ordinary code (this Python's standard library, tests excluded) and on 20 look-alikes of secrets
(digests, commit ids, names of secrets), and how many of 20 planted secrets each layer still masks.

    python benchmarks/redaction_precision.py --label after [--files 400]
    PYTHONPATH=/path/to/old/checkout python benchmarks/redaction_precision.py --label before

Each run merges its numbers under its label into benchmarks/results/redaction_precision.json and
rewrites benchmarks/results/redaction_precision.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import sysconfig
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / 'benchmarks' / 'results'

LOOKALIKES = [
    'commit = "9fceb02d0ae598e95dc970b74767f19372d61af8"',
    'git checkout 3f786850e387550fdab836ed7e6dc881de23001b  # the commit before the fix',
    'md5sum = "d41d8cd98f00b204e9800998ecf8427e"',
    'checksum: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'image: "python@sha256:6b1a5c5c84b03e4a5e6c2b4e7b08f0f2f5d5c4a0c8b7e9f3a1d2c3b4a5f6e7d8"',
    'digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"',
    'ETag: "33a64df551425fcc55e4d42a148795d9f25f89d4"',
    'integrity="sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="',
    'hash = hashlib.sha1(data).hexdigest()  # e.g. 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12',
    'expected_sha256 = "a591a6d40bf420404a011733cfb7b190d62c65bf0bcda32b57b277d9ad9f146e"',
    'secret_name = "prod/payments/database"',
    'token_type = "bearer_refresh_v2"',
    'password_field = "user_password_input"',
    'SECRET_KEY_ENV = "DJANGO_SECRET_KEY_VALUE"',
    'api_key_header = "X-Api-Key-Header"',
    'rev: 6e8b2f1a9c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f',
    'fingerprint = "43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8"',
    'crc32 = 0x1c291ca3',
    'sha1 = "a9993e364706816aba3e25717850c26c9cd0d89d"',
    'blob_sha = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"',
]
PLANTED = [
    'aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"',
    'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
    'token = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"',
    'gitlab = "glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm"',
    'slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"',
    'stripe = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"',
    'DB = "postgres://app:S3cr3tPassw0rd!@db.internal:5432/app"',
    'password = "correct-horse-battery-staple"',
    'api_key = "q8Zr3LmP0xW9vT2kB7nY5cJ4hF6gD1sA"',
    'client_secret = "d41d8cd98f00b204e9800998ecf8427e"',  # digest-shaped, named as a credential
    'secret_hash_key = "a591a6d40bf420404a011733cfb7b190d62c65bf0bcda32b57b277d9ad9f146e"',
    'OPENAI_API_KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"',
    'url = "https://user:hunter2hunter2@example.com/x"',
    'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    'npm = "npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"',
    'sendgrid = "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"',
    'google = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"',
    'twilio = "SK0123456789abcdef0123456789abcdef"',
    'etag_secret = "33a64df551425fcc55e4d42a148795d9f25f89d4"',
    'private_token = "9fceb02d0ae598e95dc970b74767f19372d61af8"',
]


def corpus(files: int) -> list[str]:
    root = Path(sysconfig.get_paths()['stdlib'])
    paths = sorted(p for p in root.rglob('*.py') if 'test' not in p.parts and 'tests' not in p.parts
                   and 'idlelib' not in p.parts)[:files]
    lines = []
    for p in paths:
        lines += [ln for ln in p.read_text(encoding='utf-8', errors='replace').split('\n') if ln.strip()]
    return lines


def measure(lines: list[str]) -> dict[str, int]:
    from reviewbot.privacy import layers
    from reviewbot.privacy.redact import redact
    masked1 = masked2 = 0
    any_masked = 0
    for line in lines:
        r1, n1 = redact(line)
        _, n2 = layers.own_redact_line(r1)
        masked1 += bool(n1)
        masked2 += bool(n2)
        any_masked += bool(n1 or n2)
    flagged3 = len(layers.detect_secrets_lines('\n'.join(lines)))
    return {'lines': len(lines), 'masked_layer1': masked1, 'masked_layer2': masked2,
            'masked_layer1_or_2': any_masked, 'withheld_layer3': flagged3}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--label', required=True)
    ap.add_argument('--files', type=int, default=400)
    args = ap.parse_args()
    import reviewbot
    out = {'code': str(Path(reviewbot.__file__).parent.parent),
           'stdlib': measure(corpus(args.files)), 'lookalikes': measure(LOOKALIKES),
           'planted': measure(PLANTED)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / 'redaction_precision.json'
    data = json.loads(path.read_text()) if path.exists() else {}
    data[args.label] = out
    path.write_text(json.dumps(data, indent=2) + '\n')
    md = ['# Redaction precision (cloud payload)', '',
          (f'Corpus: the first {args.files} modules of the Python {sys.version.split()[0]} standard library '
          '(sorted paths, tests and idlelib excluded), non-blank lines; 20 look-alikes of secrets and '
          '20 planted secrets (lists in benchmarks/redaction_precision.py). A line counts once per layer.'),
          '', '| run | corpus | lines | masked by layer 1 | by layer 2 | by 1 or 2 | withheld by layer 3 |',
          '|---|---|---|---|---|---|---|']
    for label, run in data.items():
        for name in ('stdlib', 'lookalikes', 'planted'):
            m = run[name]
            md.append(f'| {label} | {name} | {m["lines"]} | {m["masked_layer1"]} | {m["masked_layer2"]} | '
                      f'{m["masked_layer1_or_2"]} | {m["withheld_layer3"]} |')
    (RESULTS / 'redaction_precision.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))
    return 0


if __name__ == '__main__':
    sys.exit(main())
