"""Where a run happens: GitHub Actions, GitLab CI, or a local clone with a github.com/gitlab.com remote.

`detect(env)` reads the CI environment and the event payload into a PlatformContext. Everything read
here is a HINT about the repository (its name, its visibility): the privacy gate proves visibility
with the platform's API before any code may leave (reviewbot.privacy.gate). Nothing here does I/O
except reading the event file and, for the hook case, `git remote -v`.
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reviewbot import git

GITHUB = 'github'
GITLAB = 'gitlab'
GITHUB_DEFAULT_API = 'https://api.github.com'
GITLAB_DEFAULT_API = 'https://gitlab.com/api/v4'


@dataclasses.dataclass(frozen=True)
class PlatformContext:
    platform: str  # 'github' | 'gitlab'
    api_url: str  # e.g. https://api.github.com, https://gitlab.example.com/api/v4 (no trailing /)
    repo: str  # the repository the run belongs to: GitHub 'owner/name'; GitLab project id or path
    source: str  # 'github-actions' | 'gitlab-ci' | 'git-remote'
    token: str | None = dataclasses.field(default=None, repr=False)  # never printed
    token_header: str = 'Authorization'  # GitLab: 'PRIVATE-TOKEN' or 'JOB-TOKEN'
    pr_number: int | None = None  # PR number / MR iid
    base_repo: str | None = None  # PR/MR target repository (where the change would be merged)
    head_repo: str | None = None  # PR/MR source repository (a fork, or the same repository)
    base_sha: str | None = None
    head_sha: str | None = None
    event_name: str | None = None
    # What the environment / event payload claims about visibility: a hint to compare with the API,
    # never proof. repo -> 'public' | 'private' | 'internal'.
    visibility_hints: tuple[tuple[str, str], ...] = ()
    # Hook case: every further remote of the clone (all must be verified public too).
    other_repos: tuple[str, ...] = ()

    @property
    def is_pull_request(self) -> bool:
        return self.pr_number is not None

    def repos_to_verify(self) -> list[str]:
        """Every repository the reviewed code belongs to or is proposed to; each must be public."""
        seen: list[str] = []
        for r in (self.base_repo, self.repo, self.head_repo, *self.other_repos):
            if r and r.lower() not in (s.lower() for s in seen):
                seen.append(r)
        return seen


def detect(env: Mapping[str, str]) -> PlatformContext | None:
    """The CI platform of this run, or None when it is neither GitHub Actions nor GitLab CI."""
    if env.get('GITHUB_ACTIONS') == 'true':
        return _github_actions(env)
    if env.get('GITLAB_CI') == 'true':
        return _gitlab_ci(env)
    return None


def _read_event(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _dig(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _visibility_hint(repo_obj: Any) -> str | None:
    """What an event payload's repository object claims; None when it claims nothing."""
    vis = _dig(repo_obj, 'visibility')
    private = _dig(repo_obj, 'private')
    if isinstance(vis, str) and vis:
        if private is True and vis == 'public':
            return 'private'  # self-contradicting payload: take the cautious reading
        return vis
    if private is True:
        return 'private'
    if private is False:
        return 'public'
    return None


def _github_actions(env: Mapping[str, str]) -> PlatformContext | None:
    repo = env.get('GITHUB_REPOSITORY', '')
    if not repo:
        return None
    event = _read_event(env.get('GITHUB_EVENT_PATH'))
    pr = event.get('pull_request') if isinstance(event.get('pull_request'), dict) else None
    hints: list[tuple[str, str]] = []
    event_repo = _dig(event, 'repository', 'full_name')
    if (h := _visibility_hint(event.get('repository'))) is not None:
        # keyed by the name the payload gives: a payload about another repository is a disagreement
        hints.append((event_repo if isinstance(event_repo, str) and event_repo else repo, h))
    base_repo = head_repo = base_sha = head_sha = None
    number = None
    if pr is not None:
        base_repo = _dig(pr, 'base', 'repo', 'full_name')
        head_repo = _dig(pr, 'head', 'repo', 'full_name')
        base_sha = _dig(pr, 'base', 'sha')
        head_sha = _dig(pr, 'head', 'sha')
        raw_number = pr.get('number', event.get('number'))
        number = raw_number if isinstance(raw_number, int) else None
        # a PR event without its number or target is malformed: mark it, the gate refuses it
        base_repo = base_repo if isinstance(base_repo, str) and base_repo else ''
        if number is None:
            number = 0
        for key, name in (('base', base_repo), ('head', head_repo)):
            h = _visibility_hint(_dig(pr, key, 'repo'))
            if isinstance(name, str) and name and h and (name, h) not in hints:
                hints.append((name, h))
    token = env.get('REVIEWBOT_GITHUB_TOKEN') or env.get('GITHUB_TOKEN') or env.get('GH_TOKEN') or None
    return PlatformContext(
        platform=GITHUB,
        api_url=(env.get('GITHUB_API_URL') or GITHUB_DEFAULT_API).rstrip('/'),
        repo=repo,
        source='github-actions',
        token=token,
        token_header='Authorization',
        pr_number=number,
        base_repo=base_repo,
        head_repo=head_repo if isinstance(head_repo, str) and head_repo else None,
        base_sha=base_sha if isinstance(base_sha, str) else None,
        head_sha=head_sha if isinstance(head_sha, str) else None,
        event_name=env.get('GITHUB_EVENT_NAME') or None,
        visibility_hints=tuple(hints),
    )


def _gitlab_token(env: Mapping[str, str]) -> tuple[str | None, str]:
    for name in ('REVIEWBOT_GITLAB_TOKEN', 'GITLAB_TOKEN'):
        if env.get(name):
            return env[name], 'PRIVATE-TOKEN'
    if env.get('CI_JOB_TOKEN'):
        return env['CI_JOB_TOKEN'], 'JOB-TOKEN'
    return None, 'PRIVATE-TOKEN'


def _gitlab_ci(env: Mapping[str, str]) -> PlatformContext | None:
    project = env.get('CI_PROJECT_ID', '')
    api = env.get('CI_API_V4_URL') or (
        env['CI_SERVER_URL'].rstrip('/') + '/api/v4' if env.get('CI_SERVER_URL') else '')
    if not project or not api:
        return None
    token, header = _gitlab_token(env)
    hints: list[tuple[str, str]] = []
    if env.get('CI_PROJECT_VISIBILITY'):
        hints.append((project, env['CI_PROJECT_VISIBILITY']))
    iid = env.get('CI_MERGE_REQUEST_IID')
    number = base_repo = head_repo = None
    if iid:
        number = int(iid) if iid.isdigit() else 0  # malformed: the gate refuses it
        base_repo = env.get('CI_MERGE_REQUEST_PROJECT_ID', '')
        head_repo = env.get('CI_MERGE_REQUEST_SOURCE_PROJECT_ID') or None
    return PlatformContext(
        platform=GITLAB,
        api_url=api.rstrip('/'),
        repo=project,
        source='gitlab-ci',
        token=token,
        token_header=header,
        pr_number=number,
        base_repo=base_repo,
        head_repo=head_repo,
        base_sha=env.get('CI_MERGE_REQUEST_DIFF_BASE_SHA') or None,
        head_sha=env.get('CI_COMMIT_SHA') or None,
        event_name=env.get('CI_PIPELINE_SOURCE') or None,
        visibility_hints=tuple(hints),
    )


# git@github.com:owner/name.git, ssh://git@github.com/owner/name, https://github.com/owner/name.git,
# https://user@gitlab.com/group/sub/name.git
_REMOTE = re.compile(
    r'^(?:(?:ssh|https?|git)://(?:[^@/]+@)?(?P<host1>[^/:]+)(?::\d+)?/'
    r'|(?:[^@/]+@)?(?P<host2>[^/:]+):)'
    r'(?P<path>[^?#]+?)(?:\.git)?/?$'
)
_HOSTS = {'github.com': GITHUB, 'gitlab.com': GITLAB}


def parse_remote_url(url: str) -> tuple[str, str, str] | None:
    """(platform, api_url, repo path) of a github.com / gitlab.com remote URL, else None."""
    m = _REMOTE.match(url.strip())
    if not m:
        return None
    host = (m.group('host1') or m.group('host2') or '').lower()
    path = m.group('path').strip('/')
    platform = _HOSTS.get(host)
    if platform is None or not path or '..' in path.split('/'):
        return None
    if platform == GITHUB:
        if path.count('/') != 1:
            return None
        return GITHUB, GITHUB_DEFAULT_API, path
    if path.count('/') < 1:
        return None
    return GITLAB, GITLAB_DEFAULT_API, path


def git_remote_urls(repo_root: Path) -> dict[str, str] | None:
    """remote name -> fetch/push URLs (space-joined) of a clone; None when git fails."""
    lines = git.remote_lines(repo_root)
    if lines is None:
        return None
    remotes: dict[str, list[str]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[1] not in remotes.setdefault(parts[0], []):
            remotes[parts[0]].append(parts[1])
    return {name: ' '.join(urls) for name, urls in remotes.items()}


def from_git_remotes(repo_root: Path, env: Mapping[str, str]) -> tuple[PlatformContext | None, str]:
    """The hook/CLI case: the platform of a local clone, from ALL its remotes (and the push URL).

    Every remote must be a github.com or gitlab.com URL on the same platform: code committed here
    may be pushed to any of them. Returns (context, '') or (None, why not).
    """
    remotes = git_remote_urls(repo_root)
    if remotes is None:
        return None, 'cannot list the git remotes'
    urls = [u for joined in remotes.values() for u in joined.split()]
    if env.get('PRE_COMMIT_REMOTE_URL'):
        urls.append(env['PRE_COMMIT_REMOTE_URL'])
    if not urls:
        return None, 'the repository has no git remote'
    parsed: list[tuple[str, str, str]] = []
    for url in urls:
        p = parse_remote_url(url)
        if p is None:
            return None, f'remote {_safe_url(url)!r} is not a github.com or gitlab.com repository'
        parsed.append(p)
    platforms = {p[0] for p in parsed}
    if len(platforms) != 1:
        return None, 'the remotes are on more than one platform'
    platform = parsed[0][0]
    repos: list[str] = []
    for _, _, path in parsed:
        if path.lower() not in (r.lower() for r in repos):
            repos.append(path)
    if platform == GITHUB:
        token = env.get('REVIEWBOT_GITHUB_TOKEN') or env.get('GITHUB_TOKEN') or env.get('GH_TOKEN') or None
        header = 'Authorization'
    else:
        token, header = _gitlab_token(env)
    # GitHub Enterprise / self-managed GitLab mirrors, and tests: an explicit reviewbot variable only
    api_override = env.get('REVIEWBOT_GITHUB_API_URL' if platform == GITHUB else 'REVIEWBOT_GITLAB_API_URL')
    return PlatformContext(
        platform=platform,
        api_url=(api_override or parsed[0][1]).rstrip('/'),
        repo=repos[0],
        source='git-remote',
        token=token,
        token_header=header,
        other_repos=tuple(repos[1:]),
    ), ''


def _safe_url(url: str) -> str:
    """A remote URL without credentials (https://user:token@host/...)."""
    return re.sub(r'//[^/@]+@', '//', url)
