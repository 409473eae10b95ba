"""The privacy gate: may the cloud reviewer see this diff? Fail-closed.

`decide()` allows the cloud only when ALL hold:
  - `cloud.enabled` is true and this stage is listed in `cloud.stages`
    (pre-commit / pre-push are not listed by default);
  - the run is on a known platform (GitHub or GitLab, from CI or from the clone's remotes);
  - every repository involved -- the run's repository, a PR/MR's target and source, every remote of a
    local clone -- is verified public by the platform API in this run (GitHub: visibility == "public"
    and private is false; GitLab: visibility == "public" with the repository, and for an MR the merge
    requests, open to everyone);
  - no environment variable or event payload disagrees with what the API said;
  - at least one changed file is left once deny-listed paths are removed.
Any error, timeout, missing token or unexpected answer means "local only", with the reason recorded.
The decision is a pure function of its inputs; the one I/O step, asking the API, is passed in.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from reviewbot.core import FileChange
from reviewbot.forge import GITHUB, GITLAB, PlatformContext
from reviewbot.privacy.visibility import Visibility

# Paths that never leave, whatever the config says (unless default_deny = false; deny_paths add more).
DEFAULT_DENY = (
    '.env', '.env.*', '*.env', '*.pem', '*.key', '*.p12', '*.pfx', '*.jks', '*.keystore', '*.kdbx',
    'id_rsa*', 'id_dsa*', 'id_ecdsa*', 'id_ed25519*', '.npmrc', '.pypirc', '.netrc', '_netrc',
    '.git-credentials', '.htpasswd', 'credentials', 'credentials.*', '**/secrets/**', 'secrets.json',
    'secrets.yml', 'secrets.yaml', '*.tfstate', '*.tfstate.*', '*.tfvars', '**/.ssh/**',
    '**/.aws/**', '**/.docker/config.json', '**/.kube/config',
)

FetchVisibility = Callable[[PlatformContext, str], Visibility]


@dataclasses.dataclass
class GateDecision:
    allowed: bool
    reasons: list[str]  # why not (when denied), or what was verified (when allowed)
    files_allowed: list[FileChange]
    files_denied: list[FileChange]
    verified: list[Visibility] = dataclasses.field(default_factory=list)

    @property
    def denied_paths(self) -> list[str]:
        return [f.path for f in self.files_denied]

    def notes(self) -> list[str]:
        """Report notes, e.g. 'cloud: not used: repository octo/x is private (GitHub API: ...)'."""
        if not self.allowed:
            return [f'cloud: not used: {r}' for r in self.reasons]
        return [f'cloud: {r}' for r in self.reasons]


def _cloud_section(cfg: Any) -> dict[str, Any]:
    if isinstance(cfg, dict):
        return cfg
    return cfg.section('cloud')


def decide(
    cfg: Any,
    platform_ctx: PlatformContext | None,
    stage: str,
    files: list[FileChange],
    fetch_visibility: FetchVisibility,
) -> GateDecision:
    """Decide whether `files` may be sent to the cloud reviewer in this run (see module doc)."""
    cloud = _cloud_section(cfg)
    if cloud.get('enabled') is not True:  # only an explicit true opens anything
        return GateDecision(False, ['cloud reviewer is disabled (cloud.enabled = false)'], [], list(files))

    patterns = [*(DEFAULT_DENY if cloud.get('default_deny', True) else ()), *cloud.get('deny_paths', [])]
    files_allowed, files_denied = split_denied(files, patterns)

    # Checks that need no network first: with any of these failing nothing is asked of anyone.
    reasons: list[str] = []
    if stage not in cloud.get('stages', []):
        reasons.append(f'stage {stage!r} is not in cloud.stages {cloud.get("stages", [])!r}')
    if platform_ctx is None:
        reasons.append('unknown platform: not GitHub Actions, GitLab CI, or a clone whose remotes are '
                       'all on github.com or gitlab.com')
    elif platform_ctx.platform not in (GITHUB, GITLAB):
        reasons.append(f'unknown platform {platform_ctx.platform!r}')
    else:
        reasons.extend(_context_problems(platform_ctx))
    if files_denied:
        shown = ', '.join(f.path for f in files_denied[:10])
        more = f' and {len(files_denied) - 10} more' if len(files_denied) > 10 else ''
        withheld = f'{len(files_denied)} file(s) on the deny list withheld: {shown}{more}'
    else:
        withheld = ''
    if not files_allowed:
        reasons.append(f'nothing left to send ({withheld})' if withheld else 'no changed files to send')
    if reasons:
        return GateDecision(False, reasons, [], list(files))
    assert platform_ctx is not None

    api = f'{"GitHub" if platform_ctx.platform == GITHUB else "GitLab"} API'
    verified: list[Visibility] = []
    for repo in platform_ctx.repos_to_verify():
        try:
            vis = fetch_visibility(platform_ctx, repo)
        except Exception as e:  # any failure at all means: not verified, local only
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            reasons.append(f'visibility of {repo} could not be verified ({msg})')
            continue
        if not isinstance(vis, Visibility) or vis.repo.lower() != repo.lower():
            reasons.append(f'visibility of {repo} could not be verified (unexpected answer)')
            continue
        verified.append(vis)
        if vis.is_public is not True:
            reasons.append(f'repository {repo} is not public: {vis.visibility} ({api}: {vis.detail})')
    if reasons:
        return GateDecision(False, reasons, [], list(files), verified)

    by_repo = {v.repo.lower(): v for v in verified}
    for repo, hint in platform_ctx.visibility_hints:
        known = by_repo.get(repo.lower())
        if known is None:
            reasons.append(f'the environment names repository {repo} ({hint}), which was not verified')
        elif hint != known.visibility:
            reasons.append(f'disagreement about {repo}: the environment/event says {hint!r}, '
                           f'the {api} says {known.visibility!r}')
    if reasons:
        return GateDecision(False, reasons, [], list(files), verified)

    allowed_reasons = [f'repository {v.repo} verified public ({api}: {v.detail})' for v in verified]
    if withheld:
        allowed_reasons.append(withheld)
    return GateDecision(True, allowed_reasons, files_allowed, files_denied, verified)


def _context_problems(ctx: PlatformContext) -> list[str]:
    problems: list[str] = []
    if not ctx.token:
        problems.append(f'no {ctx.platform} API token in this run to verify repository visibility')
    if not ctx.api_url:
        problems.append(f'no {ctx.platform} API URL')
    if not ctx.repo:
        problems.append('the repository of this run is unknown')
    if ctx.event_name in ('pull_request', 'pull_request_target') and not ctx.is_pull_request:
        problems.append(f'{ctx.event_name} event without a pull_request payload')
    if ctx.is_pull_request:
        if not ctx.pr_number:
            problems.append('the pull/merge request number is missing')
        if not ctx.base_repo:
            problems.append('the target repository of the pull/merge request is unknown')
        elif ctx.platform == GITHUB and ctx.base_repo.lower() != ctx.repo.lower():
            problems.append(f'the pull request targets {ctx.base_repo}, not {ctx.repo}, '
                            'the repository of this run')
    return problems


def split_denied(files: Iterable[FileChange], patterns: Iterable[str]) -> tuple[list[FileChange],
                                                                               list[FileChange]]:
    """(allowed, denied): a file is denied when its old or new path matches any pattern."""
    matchers = [_compile_glob(p) for p in patterns]
    allowed: list[FileChange] = []
    denied: list[FileChange] = []
    for f in files:
        paths = [p for p in (f.old_path, f.new_path) if p]
        if any(m(p) for m in matchers for p in paths):
            denied.append(f)
        else:
            allowed.append(f)
    return allowed, denied


@functools.lru_cache(maxsize=512)
def _compile_glob(pattern: str) -> Callable[[str], bool]:
    """gitignore-like: `**` spans directories, `*`/`?` stay inside one; no '/' = any basename."""
    pattern = pattern.strip().strip('/')  # 'dir/' means the directory: it matches what is inside
    anywhere = '/' not in pattern
    regex = ''
    i = 0
    while i < len(pattern):
        if pattern.startswith('**/', i):
            regex += '(?:.*/)?'
            i += 3
        elif pattern.startswith('**', i):
            regex += '.*'
            i += 2
        elif pattern[i] == '*':
            regex += '[^/]*'
            i += 1
        elif pattern[i] == '?':
            regex += '[^/]'
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    if anywhere:
        regex = '(?:.*/)?' + regex
    compiled = re.compile(regex + r'(?:/.*)?\Z', re.IGNORECASE)  # a matching directory covers its files
    return lambda path: compiled.match(path.removeprefix('./')) is not None
