from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from reviewbot.privacy import receipts
from tests.conftest import GitRepo


def _receipt(body: bytes = b'{"x":1}', attempt: int = 1) -> dict:
    return receipts.make_receipt(url='https://api.example.com/v1/chat/completions',
                                 host='api.example.com', provider='openai', model='m', body=body,
                                 files=['a.py'], hunks=['a.py:1-3'], redactions=2, attempt=attempt,
                                 repo='acme/widget', stage='ci')


def test_receipt_fields():
    r = _receipt(b'exact bytes')
    assert r['sha256'] == hashlib.sha256(b'exact bytes').hexdigest() and r['bytes'] == 11
    assert (r['endpoint_host'], r['model'], r['files'], r['hunks'], r['redactions']) == \
        ('api.example.com', 'm', ['a.py'], ['a.py:1-3'], 2)
    assert r['time'].endswith('+00:00')


def test_append_and_read_back(tmp_path: Path):
    path = tmp_path / 'sub' / 'egress.jsonl'
    receipts.append(path, _receipt(attempt=1))
    receipts.append(path, _receipt(attempt=2))
    assert [r['attempt'] for r in receipts.read(path)] == [1, 2]


def test_unwritable_file_raises(tmp_path: Path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(receipts.ReceiptError, match='cannot write the egress receipt'):
        receipts.append(blocker / 'egress.jsonl', _receipt())


def test_default_path_is_in_the_git_dir_not_the_work_tree(repo: GitRepo):
    path = receipts.receipts_path({'receipts_file': ''}, repo.path)
    assert path == (repo.path / '.git' / 'reviewbot' / 'egress.jsonl').resolve()


def test_configured_relative_path_is_under_the_repo(repo: GitRepo, tmp_path: Path):
    assert receipts.receipts_path({'receipts_file': 'audit/egress.jsonl'}, repo.path) == \
        repo.path / 'audit' / 'egress.jsonl'
    absolute = tmp_path / 'x.jsonl'
    assert receipts.receipts_path({'receipts_file': str(absolute)}, repo.path) == absolute


def test_without_a_repository_the_cache_dir_is_used():
    path = receipts.receipts_path({'receipts_file': ''}, None)
    assert path.parts[-2:] == ('reviewbot', 'egress.jsonl')


@pytest.mark.parametrize('link', ['audit/egress.jsonl', 'audit'])
def test_a_relative_path_with_a_link_on_the_way_is_refused(repo: GitRepo, tmp_path: Path, link: str):
    outside = tmp_path / 'outside'
    outside.mkdir()
    (repo.path / 'audit').mkdir(exist_ok=True) if link != 'audit' else None
    (repo.path / link).symlink_to(outside / 'egress.jsonl' if link != 'audit' else outside)
    cloud = {'receipts_file': 'audit/egress.jsonl'}
    path = receipts.receipts_path(cloud, repo.path)
    with pytest.raises(receipts.ReceiptError, match='refusing to write the egress receipt .*symbolic link'):
        receipts.append(path, _receipt(), receipts.confined_to(cloud, repo.path))
    assert list(outside.iterdir()) == []


def test_a_relative_path_leaving_the_repo_or_a_fifo_is_refused(repo: GitRepo):
    cloud = {'receipts_file': '../egress.jsonl'}
    with pytest.raises(receipts.ReceiptError, match='not .*inside the repository'):
        receipts.append(receipts.receipts_path(cloud, repo.path), _receipt(), receipts.confined_to(cloud, repo.path))
    assert not (repo.path.parent / 'egress.jsonl').exists()
    os.mkfifo(repo.path / 'fifo.jsonl')
    cloud = {'receipts_file': 'fifo.jsonl'}
    with pytest.raises(receipts.ReceiptError, match='egress receipt'):
        receipts.append(receipts.receipts_path(cloud, repo.path), _receipt(), receipts.confined_to(cloud, repo.path))


def test_a_relative_path_creates_its_directories(repo: GitRepo):
    cloud = {'receipts_file': 'a/b/egress.jsonl'}
    receipts.append(receipts.receipts_path(cloud, repo.path), _receipt(), receipts.confined_to(cloud, repo.path))
    assert len(receipts.read(repo.path / 'a' / 'b' / 'egress.jsonl')) == 1
