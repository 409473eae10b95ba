"""The gate's decision as a pure function: the visibility lookup is a plain function given in."""
from __future__ import annotations

import pytest

from reviewbot.config import from_table
from reviewbot.diffparse import parse_diff
from reviewbot.platform import PlatformContext
from reviewbot.privacy.gate import decide, split_denied
from reviewbot.privacy.visibility import Visibility, VisibilityError


def _files(*paths: str):
    text = ''.join(f'diff --git a/{p} b/{p}\nnew file mode 100644\n--- /dev/null\n+++ b/{p}\n'
                   f'@@ -0,0 +1 @@\n+x = 1\n' for p in paths)
    return parse_diff(text.encode()).files


def _cloud(**kw):
    return from_table({'cloud': {'enabled': True, **kw}}, 'test')['cloud']


GH = PlatformContext(platform='github', api_url='https://api.github.com', repo='acme/widget',
                     source='github-actions', token='t')


class Answers:
    """repo -> Visibility (or an exception to raise); remembers what was asked."""

    def __init__(self, **answers):
        self.answers = {k.replace('__', '/'): v for k, v in answers.items()}
        self.asked: list[str] = []

    def __call__(self, ctx: PlatformContext, repo: str) -> Visibility:
        self.asked.append(repo)
        answer = self.answers.get(repo, VisibilityError('HTTP 404'))
        if isinstance(answer, Exception):
            raise answer
        return answer


def gh(repo: str, vis: str) -> Visibility:
    return Visibility('github', repo, vis, vis == 'public', f'visibility={vis}')


def test_allowed_when_everything_holds():
    fetch = Answers(acme__widget=gh('acme/widget', 'public'))
    d = decide(_cloud(), GH, 'ci', _files('a.py'), fetch)
    assert d.allowed and [f.path for f in d.files_allowed] == ['a.py'] and d.files_denied == []
    assert d.notes() == ['cloud: repository acme/widget verified public (GitHub API: visibility=public)']
    assert fetch.asked == ['acme/widget']


def test_disabled_asks_nobody():
    fetch = Answers(acme__widget=gh('acme/widget', 'public'))
    d = decide(_cloud(enabled=False), GH, 'ci', _files('a.py'), fetch)
    assert not d.allowed and fetch.asked == [] and 'disabled' in d.reasons[0]


@pytest.mark.parametrize('stage, stages, allowed', [
    ('pre-commit', None, False), ('pre-push', None, False), ('ci', None, True), ('cli', None, True),
    ('pre-commit', ['pre-commit'], True), ('ci', ['pre-commit'], False),
])
def test_stages(stage, stages, allowed):
    cloud = _cloud() if stages is None else _cloud(stages=stages)
    fetch = Answers(acme__widget=gh('acme/widget', 'public'))
    d = decide(cloud, GH, stage, _files('a.py'), fetch)
    assert d.allowed is allowed
    if not allowed:
        assert fetch.asked == [] and f'stage {stage!r}' in d.reasons[0]


@pytest.mark.parametrize('error', [VisibilityError('timed out'), RuntimeError('boom'), KeyError('x'),
                                   ValueError()])
def test_any_error_denies(error):
    d = decide(_cloud(), GH, 'ci', _files('a.py'), Answers(acme__widget=error))
    assert not d.allowed and d.files_allowed == []
    assert d.reasons[0].startswith('visibility of acme/widget could not be verified')


def test_an_answer_about_another_repository_denies():
    d = decide(_cloud(), GH, 'ci', _files('a.py'), Answers(acme__widget=gh('evil/other', 'public')))
    assert not d.allowed and 'unexpected answer' in d.reasons[0]


def test_every_repository_must_be_public():
    ctx = PlatformContext(platform='github', api_url='x', repo='acme/widget', source='github-actions',
                          token='t', pr_number=3, base_repo='acme/widget', head_repo='alice/widget')
    fetch = Answers(acme__widget=gh('acme/widget', 'public'), alice__widget=gh('alice/widget', 'private'))
    d = decide(_cloud(), ctx, 'ci', _files('a.py'), fetch)
    assert not d.allowed and fetch.asked == ['acme/widget', 'alice/widget']
    assert d.reasons == ['repository alice/widget is not public: private (GitHub API: visibility=private)']


@pytest.mark.parametrize('hint', ['private', 'internal'])
def test_disagreeing_hint_denies(hint):
    ctx = PlatformContext(platform='github', api_url='x', repo='acme/widget', source='github-actions',
                          token='t', visibility_hints=(('acme/widget', hint),))
    d = decide(_cloud(), ctx, 'ci', _files('a.py'), Answers(acme__widget=gh('acme/widget', 'public')))
    assert not d.allowed and 'disagreement' in d.reasons[0]


def test_agreeing_hint_is_fine_but_never_enough():
    ctx = PlatformContext(platform='github', api_url='x', repo='acme/widget', source='github-actions',
                          token='t', visibility_hints=(('acme/widget', 'public'),))
    assert decide(_cloud(), ctx, 'ci', _files('a.py'), Answers(acme__widget=gh('acme/widget', 'public'))
                  ).allowed
    assert not decide(_cloud(), ctx, 'ci', _files('a.py'), Answers()).allowed  # 404: hint alone is no proof


@pytest.mark.parametrize('ctx, why', [
    (None, 'unknown platform'),
    (PlatformContext(platform='bitbucket', api_url='x', repo='a/b', source='x', token='t'),
     "unknown platform 'bitbucket'"),
    (PlatformContext(platform='github', api_url='x', repo='a/b', source='x'), 'no github API token'),
    (PlatformContext(platform='github', api_url='x', repo='a/b', source='x', token='t', pr_number=1,
                     base_repo=''), 'target repository'),
    (PlatformContext(platform='github', api_url='x', repo='a/b', source='x', token='t', pr_number=0,
                     base_repo='a/b'), 'number is missing'),
    (PlatformContext(platform='github', api_url='x', repo='a/b', source='x', token='t', pr_number=1,
                     base_repo='c/d'), 'targets c/d'),
    (PlatformContext(platform='github', api_url='x', repo='a/b', source='x', token='t',
                     event_name='pull_request_target'), 'without a pull_request payload'),
])
def test_context_problems_deny_without_asking(ctx, why):
    fetch = Answers(a__b=gh('a/b', 'public'), c__d=gh('c/d', 'public'))
    d = decide(_cloud(), ctx, 'ci', _files('a.py'), fetch)
    assert not d.allowed and fetch.asked == [] and any(why in r for r in d.reasons), d.reasons


def test_deny_list_withholds_files_and_empty_means_nothing_sent():
    fetch = Answers(acme__widget=gh('acme/widget', 'public'))
    d = decide(_cloud(deny_paths=['docs/internal/**']), GH, 'ci',
               _files('a.py', '.env', 'docs/internal/plan.md'), fetch)
    assert d.allowed and [f.path for f in d.files_allowed] == ['a.py']
    assert d.denied_paths == ['.env', 'docs/internal/plan.md']
    assert 'cloud: 2 file(s) on the deny list withheld: .env, docs/internal/plan.md' in d.notes()
    d = decide(_cloud(), GH, 'ci', _files('.env', 'keys/id_rsa'), fetch)
    assert not d.allowed and 'nothing left to send' in d.reasons[0]


@pytest.mark.parametrize('path, patterns, denied', [
    ('.env', ['.env'], True), ('app/.env', ['.env'], True), ('app/.env.local', ['.env.*'], True),
    ('app/env.py', ['.env'], False), ('certs/a.PEM', ['*.pem'], True),
    ('x/secrets/db.txt', ['**/secrets/**'], True), ('secrets.py', ['**/secrets/**'], False),
    ('reviewbot/reviewers/secrets.py', ['**/secrets/**'], False),
    ('docs/internal/a/b.md', ['docs/internal/**'], True), ('other/docs/internal/a.md',
                                                           ['docs/internal/**'], False),
    ('vendor/x', ['vendor'], True), ('src/vendor.py', ['vendor'], False),
    ('./.env', ['.env'], True), ('docs/internal/a.md', ['docs/internal/'], True),
    ('x/build/a.o', ['build/'], True), ('/abs/secrets.json', ['secrets.json'], True), ('a/b/c.key', ['a/**/*.key'], True), ('a/c.key', ['a/**/*.key'], True),
])
def test_glob_matching(path, patterns, denied):
    _, denied_files = split_denied(_files(path), patterns)
    assert bool(denied_files) is denied


def test_a_rename_out_of_a_denied_path_is_denied():
    text = ('diff --git a/secrets/key.txt b/notes.txt\nsimilarity index 90%\n'
            'rename from secrets/key.txt\nrename to notes.txt\n--- a/secrets/key.txt\n+++ b/notes.txt\n'
            '@@ -1 +1 @@\n-a\n+b\n')
    allowed, denied = split_denied(parse_diff(text.encode()).files, ['**/secrets/**'])
    assert allowed == [] and [f.path for f in denied] == ['notes.txt']


def test_default_deny_can_be_turned_off_but_deny_paths_still_apply():
    fetch = Answers(acme__widget=gh('acme/widget', 'public'))
    d = decide(_cloud(default_deny=False, deny_paths=['*.md']), GH, 'ci', _files('.env', 'a.md'), fetch)
    assert d.allowed and [f.path for f in d.files_allowed] == ['.env'] and d.denied_paths == ['a.md']
