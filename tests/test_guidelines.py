"""reviewbot.guidelines: the team's guidelines file, read from the work tree or from a commit; never
through a symbolic link, never from the git directory, never more than a capped size."""
from __future__ import annotations

import pytest

from reviewbot import guidelines
from reviewbot.errors import ConfigError
from tests.conftest import GitRepo


@pytest.fixture
def repo(tmp_path):
    r = GitRepo(tmp_path / 'repo')
    r.write('docs/REVIEW.md', 'Never log request bodies.\n')
    r.commit('base')
    return r


def test_reads_the_work_tree_and_a_commit(repo):
    assert guidelines.read(repo.path, 'docs/REVIEW.md') == 'Never log request bodies.'
    base = repo.git('rev-parse', 'HEAD').strip()
    repo.write('docs/REVIEW.md', 'changed in the work tree\n')
    assert guidelines.read(repo.path, 'docs/REVIEW.md', base) == 'Never log request bodies.'


@pytest.mark.parametrize('link', ['.git/config', 'docs'])
def test_a_symbolic_link_in_any_component_is_refused(repo, link):
    if link == 'docs':  # a linked directory: docs2/REVIEW.md -> docs/REVIEW.md
        (repo.path / 'docs2').symlink_to('docs')
        path = 'docs2/REVIEW.md'
    else:
        (repo.path / 'G.md').symlink_to(link)
        path = 'G.md'
    with pytest.raises(ConfigError, match='symbolic link'):
        guidelines.read(repo.path, path)


def test_a_symbolic_link_in_the_commit_is_refused(repo):
    (repo.path / 'G.md').symlink_to('docs/REVIEW.md')
    head = repo.commit('link')
    with pytest.raises(ConfigError, match='symbolic link'):
        guidelines.read(repo.path, 'G.md', head)


@pytest.mark.parametrize('path', ['.git/config', '.GIT/config', 'sub/.git/config'])
def test_the_git_directory_is_refused(repo, path):
    with pytest.raises(ConfigError, match='git directory'):
        guidelines.read(repo.path, path)


def test_a_separate_git_dir_is_refused(tmp_path):
    """`git rev-parse --git-dir` may name a directory inside the work tree under another name."""
    wt = tmp_path / 'wt'
    wt.mkdir()
    import subprocess
    subprocess.run(['git', 'init', '-q', '--separate-git-dir', str(wt / 'meta'), str(wt)], check=True)
    with pytest.raises(ConfigError, match='git directory'):
        guidelines.read(wt, 'meta/config')


def test_the_size_is_capped(repo):
    repo.write('big.md', 'x' * (guidelines.MAX_BYTES * 4))
    base = repo.commit('big')
    assert len(guidelines.read(repo.path, 'big.md')) == guidelines.MAX_BYTES
    assert len(guidelines.read(repo.path, 'big.md', base)) == guidelines.MAX_BYTES


def test_a_missing_file_is_one_line(repo):
    base = repo.git('rev-parse', 'HEAD').strip()
    for rev in (None, base):
        with pytest.raises(ConfigError, match='not found'):
            guidelines.read(repo.path, 'nope.md', rev)
