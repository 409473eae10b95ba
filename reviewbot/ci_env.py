"""The CI job's side of a review: which commits a pull/merge request pipeline reviews, from git alone.

The platform (reviewbot.forge.detect) says which event this is and names the base and head
commits; here they become a DiffSource from the local clone: merge-base(base, head)..head, which is
what the pull request shows. Nothing is fetched over the network: a shallow clone that lacks the
base commit is an error that says how to check out the full history.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from reviewbot import config as cfgmod
from reviewbot import git, sources
from reviewbot.core import commit_id
from reviewbot.errors import ConfigError, DiffError, ReviewbotError

GITHUB_PR_EVENTS = ('pull_request', 'pull_request_target')
_ZERO_SHA = re.compile(r'^0+$')

SHALLOW_FIX = {
    'github': 'check out the whole history: `actions/checkout` with `fetch-depth: 0`',
    'gitlab': 'check out the whole history: set the CI/CD variable `GIT_DEPTH: 0` '
              '(and fetch the target branch: `git fetch origin $CI_MERGE_REQUEST_TARGET_BRANCH_NAME`)',
}


def _event_payload(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get('GITHUB_EVENT_PATH')
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ReviewbotError(f'cannot read the event payload GITHUB_EVENT_PATH={path}: {e}') from None
    return data if isinstance(data, dict) else {}


def _sha(value: Any) -> str | None:
    return commit_id(value) if isinstance(value, str) else None


def review_range(ctx: Any, env: Mapping[str, str], root: Path) -> tuple[str | None, str, str]:
    """(base, head, description) of what this CI run reviews; base None = the empty tree.

    GitHub pull_request(_target): the payload's base.sha and head.sha (GITHUB_SHA is a merge commit).
    GitHub push: before..after. GitLab merge-request pipelines: CI_MERGE_REQUEST_DIFF_BASE_SHA and the
    source branch head (CI_MERGE_REQUEST_SOURCE_BRANCH_SHA in merged-results pipelines, where
    CI_COMMIT_SHA is the merge commit)."""
    if ctx.platform == 'github':
        event = ctx.event_name or env.get('GITHUB_EVENT_NAME', '')
        if event in GITHUB_PR_EVENTS:
            base, head = _sha(ctx.base_sha), _sha(ctx.head_sha)
            if not base or not head:
                raise ReviewbotError('the pull_request event payload (GITHUB_EVENT_PATH) has no '
                                     'pull_request.base.sha / head.sha')
            return base, head, f'pull request #{ctx.pr_number} ({base[:12]}...{head[:12]})'
        if event == 'push':
            payload = _event_payload(env)
            head = _sha(payload.get('after')) or _sha(env.get('GITHUB_SHA'))
            if not head:
                raise ReviewbotError('the push event payload (GITHUB_EVENT_PATH) has no "after" commit')
            before = _sha(payload.get('before'))
            if before and not _ZERO_SHA.match(before):
                return before, head, f'push {before[:12]}..{head[:12]}'
            default = (payload.get('repository') or {}).get('default_branch')
            return _new_branch_base(root, head, default), head, f'push of a new branch ({head[:12]})'
        raise ReviewbotError(f'GitHub event {event or "(unknown)"!r} has no diff to review; run '
                             '`reviewbot ci` on pull_request or push events')
    if ctx.platform == 'gitlab':
        if not ctx.pr_number:
            raise ReviewbotError('this GitLab pipeline is not a merge-request pipeline '
                                 '(CI_MERGE_REQUEST_IID is unset); run the job with '
                                 '`rules: - if: $CI_PIPELINE_SOURCE == "merge_request_event"`')
        base = _sha(ctx.base_sha)
        head = _sha(env.get('CI_MERGE_REQUEST_SOURCE_BRANCH_SHA')) or _sha(ctx.head_sha)
        if not base or not head:
            raise ReviewbotError('the merge-request pipeline has no CI_MERGE_REQUEST_DIFF_BASE_SHA / '
                                 'CI_COMMIT_SHA')
        return base, head, f'merge request !{ctx.pr_number} ({base[:12]}...{head[:12]})'
    raise ReviewbotError(f'unknown CI platform {ctx.platform!r}')


def _new_branch_base(root: Path, head: str, default_branch: Any) -> str | None:
    """A new branch's push: from its merge-base with the default branch, else its parent commit."""
    if isinstance(default_branch, str) and default_branch:
        ref = f'refs/remotes/origin/{default_branch}'
        if git.resolve_commit(root, ref) is not None and (mb := git.merge_base(root, ref, head)):
            return mb
    return git.resolve_commit(root, f'{head}^')


def diff_source(root: Path, platform: str, base: str | None, head: str, description: str,
                event_name: str | None = None, pr_number: int | None = None):
    """merge-base(base, head)..head from the local clone; a missing commit says how to fix the checkout."""
    fix = SHALLOW_FIX.get(platform, 'check out the whole history')
    for what, sha in (('head', head), ('base', base)):
        if sha is not None and git.resolve_commit(root, sha) is None:
            shallow = ' (this clone is shallow)' if git.is_shallow(root) else ''
            hint = fix
            if what == 'head' and event_name == 'pull_request_target':
                # that event checks out the base branch: the PR's commits must be fetched (never run)
                hint += f'; pull_request_target checks out the base branch: also fetch the PR head ' \
                        f'(`git fetch origin refs/pull/{pr_number}/head`)'
            raise DiffError(f'the {what} commit {sha[:12]} is not in this clone{shallow}; {hint}')
    if base is None:
        return sources.between(root, None, head, description)
    mb = git.merge_base(root, base, head)
    if mb is None:
        shallow = 'this clone is shallow' if git.is_shallow(root) else 'the histories are unrelated'
        raise DiffError(f'no merge-base of {base[:12]} and {head[:12]} ({shallow}); {fix}')
    return sources.between(root, mb, head, description)


def _in_checkout(path: Path, root: Path, *, by_name: bool = True) -> str | None:
    """`path` relative to the checkout `root` (posix), None when it is not in it: by its name
    (when by_name) or else by where its symbolic links lead."""
    if by_name:
        lexical, top = Path(os.path.abspath(path)), Path(os.path.abspath(root))
        if lexical == top or top in lexical.parents:
            return lexical.relative_to(top).as_posix()
    real, top = path.resolve(), root.resolve()
    return real.relative_to(top).as_posix() if real == top or top in real.parents else None


def _base_reader(root: Path, base: str):
    """A file's text at the base commit, or None when the commit has no such file."""
    def read(path: str) -> str | None:
        if git.object_type(root, f'{base}:{path}') != 'blob':
            return None
        try:
            return git.cat_blob(root, f'{base}:{path}').decode('utf-8')
        except UnicodeDecodeError:
            raise ConfigError(f'{base[:12]}:{path}: not UTF-8 text') from None
    return read


def trusted_config(root: Path, cwd: Path, base: str | None, explicit: Path | None,
                   no_base: str = 'this run has no base commit') -> cfgmod.TrustSplit:
    """This CI run's config (before command-line flags): ordinary keys from the checkout, trusted
    keys (reviewbot.config.TRUST) from `explicit` when that file is outside the checkout (then it
    is the whole config), else from the base commit's version of the config file, else defaults."""
    files_from = base or ''  # files named by trusted keys: from the base commit, never the work tree
    if explicit is not None:
        path = explicit if explicit.is_absolute() else cwd / explicit
        rel = _in_checkout(path, root)
        if rel is None:
            whole = dataclasses.replace(cfgmod.load(path), files_from=files_from)
            return cfgmod.TrustSplit(whole, (), f'--config {path}')
        head = cfgmod.load(path)
        found = None
        if base is not None and (text := _base_reader(root, base)(rel)) is not None:
            found = (rel, cfgmod.table_of(text, f'{base[:12]}:{rel}'))
    else:
        head = cfgmod.load(start=cwd)
        try:
            start = PurePosixPath(cwd.resolve().relative_to(root.resolve()).as_posix())
        except ValueError:
            start = PurePosixPath('.')
        found = cfgmod.config_in_tree(_base_reader(root, base), start) if base is not None else None
    if head.source is not None and _in_checkout(head.source, root, by_name=False) is None:
        # a link planted in the checkout: nothing outside it is read on the pull request's say-so
        raise ConfigError(f'{head.source} leads outside the checkout (a symbolic link?); '
                          'the config under review must be a file in it')
    if base is None:
        return cfgmod.with_trusted_from(head, cfgmod.defaults(), f'the defaults ({no_base})', '')
    if found is None:
        return cfgmod.with_trusted_from(head, cfgmod.defaults(),
                                        f'the defaults (the base commit {base[:12]} has no reviewbot config)',
                                        base)
    rel, table = found
    origin = f'{base[:12]}:{rel}'
    trusted = cfgmod.Config(cfgmod.from_table(table, origin))
    return cfgmod.with_trusted_from(head, trusted, f"the base commit's {rel} ({origin})", base)


def in_ci(env: Mapping[str, str]) -> bool:
    """Is this process a CI job (GitHub Actions, GitLab CI), for any event?"""
    return env.get('GITHUB_ACTIONS') == 'true' or env.get('GITLAB_CI') == 'true'


def event_base(ctx: Any, env: Mapping[str, str]) -> tuple[bool, str | None]:
    """(whether the event names a base, that base): a pull/merge request's base, a merge queue's
    base_sha. A named base that is malformed is (True, None): the caller falls back to defaults."""
    if ctx is None:
        return False, None
    if ctx.is_pull_request:
        return True, _sha(ctx.base_sha)
    if ctx.platform == 'github' and (ctx.event_name or env.get('GITHUB_EVENT_NAME')) == 'merge_group':
        group = _event_payload(env).get('merge_group')
        return True, _sha(group.get('base_sha')) if isinstance(group, dict) else None
    return False, None


def run_config(ctx: Any, env: Mapping[str, str], cwd: Path, range_base: str | None,
               explicit: Path | None, *,
               no_base: str = 'this CI run has no base commit: the event names none and no --range or '
                              '--base is reviewed') -> cfgmod.TrustSplit:
    """trusted_config for a CI job (`reviewbot ci`, or `reviewbot review`/`hook` inside one), whatever
    the event and the stage: the base is the one the event names (pull/merge request, merge queue),
    else the base of the range the command reviews (`ci`: the range review_range chose; `review`:
    --range, --base), else none (`no_base` says why): trusted keys at their defaults. A base that is
    not in this clone also leaves them at their defaults (fail closed). The checkout is never
    trusted: in CI it may be anybody's code."""
    try:
        root = git.repo_root(cwd)
    except DiffError:
        root = cwd  # not a clone: the directory is still the code under review
    named, base = event_base(ctx, env)
    if named:
        if base is None:
            return trusted_config(root, cwd, None, explicit, 'the platform names no base commit')
        if git.resolve_commit(root, base) is None:
            return trusted_config(root, cwd, None, explicit, f'the base commit {base[:12]} is not in this clone')
        return trusted_config(root, cwd, base, explicit)
    if range_base is not None and git.resolve_commit(root, range_base) is not None:
        return trusted_config(root, cwd, range_base, explicit)
    return trusted_config(root, cwd, None, explicit, no_base)

