"""The gate's decision as a pure function: the visibility lookup is a plain function given in."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewbot.config import from_table
from reviewbot.diffparse import parse_diff
from reviewbot.forge import PlatformContext
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
    ('x/build/a.o', ['build/'], True), ('/abs/secrets.json', ['secrets.json'], True),
    ('a/b/c.key', ['a/**/*.key'], True), ('a/c.key', ['a/**/*.key'], True),
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


# -- property: whatever the inputs, "allowed" implies every condition was proven -----------------

REPOS = ['acme/widget', 'alice/widget', 'acme/other']
OUTCOMES = st.sampled_from(['public', 'private', 'internal', 'error', 'other-repo', 'public-flag-private'])


@st.composite
def _worlds(draw):
    # half the worlds lean towards "everything fine", so that "allowed" is reached often and each
    # single perturbation (one private repo, one bad hint, ...) is explored next to it
    good = draw(st.booleans())

    def pick(favourable, *others):
        return draw(st.sampled_from([favourable] * 12 + list(others))) if good else \
            draw(st.sampled_from([favourable, *others]))

    platform = pick('github', 'gitlab', 'bitbucket')
    repo = draw(st.sampled_from(REPOS))
    is_pr = draw(st.booleans())
    base = pick(repo, '', *REPOS) if is_pr else None
    head = draw(st.sampled_from([None, *REPOS])) if is_pr else None
    hints = tuple((pick(repo, *REPOS), pick('public', 'private', 'internal'))
                  for _ in range(draw(st.integers(0, 2))))
    ctx = PlatformContext(
        platform=platform, api_url='https://api.example', repo=repo, source='x',
        token=pick('t', None),
        pr_number=pick(7, 0) if is_pr else None,
        base_repo=base, head_repo=head,
        event_name=pick('pull_request' if is_pr else 'push', 'pull_request', None),
        visibility_hints=hints,
        other_repos=tuple(draw(st.lists(st.sampled_from(REPOS), max_size=2))),
    )
    outcomes = {r: pick('public', 'private', 'internal', 'error', 'other-repo', 'public-flag-private')
                for r in REPOS}
    stage = draw(st.sampled_from(['ci', 'cli', 'pre-commit', 'pre-push']))
    stages = draw(st.lists(st.sampled_from(['ci', 'cli', 'pre-commit', 'pre-push']), unique=True))
    if good and stage not in stages:
        stages.append(stage)
    cloud = _cloud(enabled=pick(True, False), stages=stages,
                   deny_paths=draw(st.lists(st.sampled_from(['*.md', 'src/**', 'x.py']), max_size=2)))
    paths = draw(st.lists(st.sampled_from(['a.py', 'src/b.py', 'README.md', '.env', 'x.py']),
                          min_size=0, max_size=4, unique=True))
    if good and 'a.py' not in paths:
        paths.append('a.py')
    return pick(ctx, None), outcomes, cloud, paths, stage


def _answer(outcomes):
    def fetch(ctx, repo):
        o = outcomes[repo]
        if o == 'error':
            raise VisibilityError('HTTP 500')
        if o == 'other-repo':
            return Visibility('github', 'evil/x', 'public', True, '')
        if o == 'public-flag-private':
            return Visibility('github', repo, 'public', False, 'private=true')
        return Visibility(ctx.platform, repo, o, o == 'public', '')
    return fetch


@settings(max_examples=300, deadline=None)
@given(_worlds())
def test_allowed_implies_every_condition(world):
    ctx, outcomes, cloud, paths, stage = world
    d = decide(cloud, ctx, stage, _files(*paths) if paths else [], _answer(outcomes))
    if not d.allowed:
        assert d.reasons and d.files_allowed == []
        return
    assert cloud['enabled'] is True and stage in cloud['stages']
    assert ctx is not None and ctx.platform in ('github', 'gitlab') and ctx.token
    for repo in ctx.repos_to_verify():
        assert outcomes[repo] == 'public'
    for repo, hint in ctx.visibility_hints:
        assert hint == 'public' and repo in ctx.repos_to_verify()
    if ctx.is_pull_request:
        assert ctx.pr_number and ctx.base_repo
        if ctx.platform == 'github':
            assert ctx.base_repo == ctx.repo
    if ctx.event_name == 'pull_request':
        assert ctx.is_pull_request
    sent = {f.path for f in d.files_allowed}
    assert sent and '.env' not in sent
    assert not sent & {p for p in paths if any(split_denied(_files(p), cloud['deny_paths'])[1])}


def test_the_property_reaches_allowed_worlds():
    from hypothesis import find

    def allowed(world) -> bool:
        ctx, outcomes, cloud, paths, stage = world
        return decide(cloud, ctx, stage, _files(*paths) if paths else [], _answer(outcomes)).allowed
    assert allowed(find(_worlds(), allowed, settings=settings(max_examples=500, database=None)))
