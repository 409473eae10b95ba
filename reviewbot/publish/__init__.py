"""Post a review back to a GitHub pull request or a GitLab merge request.

`publish_report(report, diff, target)` is what `reviewbot publish` and the CI job call. Findings whose
lines lie inside one hunk become inline comments; the rest go to one summary comment edited in place.
Every comment carries a hidden fingerprint marker, so a re-run posts only what is new and marks what
disappeared as resolved. Whatever could not be posted is named in PublishResult.not_posted.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

from reviewbot.core import Diff, Finding, Report
from reviewbot.errors import ReviewbotError
from reviewbot.publish.retry import RetryPolicy
from reviewbot.textsafe import log_line


@dataclasses.dataclass
class GitHubTarget:
    repo: str  # OWNER/NAME
    pr_number: int
    base_url: str = 'https://api.github.com'  # GitHub Enterprise: https://HOST/api/v3
    auth: Any = None  # github.Auth.Token(...) or AppAuth(...).get_installation_auth(id)
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    batch_size: int = 50  # inline comments per review request
    # PyGithub's own pacing between requests / writes (GitHub's secondary rate limits); 0 in tests
    seconds_between_requests: float = 0.25
    seconds_between_writes: float = 1.0
    # who the bot posts as when the token cannot say (an installation token such as Actions'
    # GITHUB_TOKEN cannot read /user): 'github-actions[bot]', or an App's '<slug>[bot]'
    bot_login: str | None = None
    expect_head: str | None = None  # the commit the report must have reviewed (trusted, e.g. the CI event)
    map_moved_head: bool = False  # head moved since the review: move findings to their code, not refuse


@dataclasses.dataclass
class GitLabTarget:
    project: str | int  # numeric id or 'group/name'
    mr_iid: int
    url: str = 'https://gitlab.com'  # server URL; a trailing /api/v4 (CI_API_V4_URL) is accepted
    token: str | None = None  # project/personal access token with `api` scope
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    expect_head: str | None = None  # the commit the report must have reviewed (trusted, e.g. the CI event)
    map_moved_head: bool = False  # head moved since the review: move findings to their code, not refuse


def ci_target(ctx: Any) -> GitHubTarget | GitLabTarget:
    """The target for this CI run's pull/merge request (needs a token with write access)."""
    if not ctx.pr_number:
        raise ReviewbotError('--publish: this run is not for a pull or merge request')
    if ctx.platform == 'github':
        if not ctx.token:
            raise ReviewbotError('--publish needs a token: set GITHUB_TOKEN (permissions: '
                                 'pull-requests: write), or publish from the JSON report in a '
                                 'workflow_run job (workflows/github-publish.yml)')
        try:
            from github import Auth
        except ModuleNotFoundError:
            raise ReviewbotError("--publish needs PyGithub: pip install 'reviewbot[publish]'") from None
        # an installation token (Actions' GITHUB_TOKEN) cannot say who it posts as: REVIEWBOT_BOT_LOGIN
        return GitHubTarget(repo=ctx.base_repo or ctx.repo, pr_number=int(ctx.pr_number),
                            base_url=ctx.api_url, auth=Auth.Token(ctx.token),
                            bot_login=os.environ.get('REVIEWBOT_BOT_LOGIN') or None)
    if ctx.platform == 'gitlab':
        if not ctx.token or getattr(ctx, 'token_header', '') == 'JOB-TOKEN':
            raise ReviewbotError('--publish needs a project access token with api scope in '
                                 'REVIEWBOT_GITLAB_TOKEN (CI_JOB_TOKEN cannot comment on merge requests)')
        return GitLabTarget(project=ctx.base_repo or ctx.repo, mr_iid=int(ctx.pr_number),
                            url=ctx.api_url, token=ctx.token)
    raise ReviewbotError(f'--publish: unknown platform {ctx.platform!r}')


@dataclasses.dataclass
class PublishResult:
    platform: str
    url: str = ''  # the pull/merge request
    inline_posted: list[str] = dataclasses.field(default_factory=list)  # fingerprints posted this run
    inline_kept: list[str] = dataclasses.field(default_factory=list)  # posted by an earlier run
    in_summary: list[tuple[Finding, str]] = dataclasses.field(default_factory=list)  # (finding, why)
    resolved: list[str] = dataclasses.field(default_factory=list)  # comments marked resolved this run
    dismissed: list[str] = dataclasses.field(default_factory=list)  # findings a person dismissed (not posted)
    not_posted: list[tuple[Finding, str]] = dataclasses.field(default_factory=list)  # (finding, why)
    warnings: list[str] = dataclasses.field(default_factory=list)  # problems that lost no finding
    summary_id: int | None = None
    summary_error: str | None = None  # why the summary comment could not be written

    @property
    def ok(self) -> bool:
        return not self.not_posted and self.summary_error is None

    def describe(self) -> str:
        lines = [(f'{self.platform}: {len(self.inline_posted)} inline comment(s) posted, '
                  f'{len(self.inline_kept)} already present, {len(self.in_summary)} finding(s) in the summary, '
                  f'{len(self.resolved)} marked resolved, {len(self.dismissed)} dismissed')]
        lines += [f'warning: {log_line(w)}' for w in self.warnings]
        if self.summary_error is not None:
            lines.append(f'NOT POSTED: the summary comment: {log_line(self.summary_error)}')
        for f, why in self.not_posted:
            where = log_line(f.path) + (f':{f.line}' if f.line is not None else '')
            lines.append(f'NOT POSTED: {where} [{log_line(f.category)}] fingerprint {f.fingerprint}: '
                         f'{log_line(why)}')
        return '\n'.join(lines)


def publish_report(report: Report, diff: Diff, target: GitHubTarget | GitLabTarget) -> PublishResult:
    """Post `report` on the request `target` names. Raises PublishError if nothing could be posted."""
    if isinstance(target, GitHubTarget):
        from reviewbot.publish.github import publish_github
        return publish_github(report, diff, target)
    if isinstance(target, GitLabTarget):
        from reviewbot.publish.gitlab import publish_gitlab
        return publish_gitlab(report, diff, target)
    raise TypeError(f'unknown publish target {type(target).__name__}')


__all__ = ['GitHubTarget', 'GitLabTarget', 'PublishResult', 'RetryPolicy', 'publish_report']
