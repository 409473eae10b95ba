"""`reviewbot publish`: post a JSON report computed earlier on a GitHub PR or a GitLab MR.

The fork-safe workflow computes the review in an unprivileged job and posts it from another; the
report is untrusted data there: every text in it is sanitised before it reaches a comment.
Exit 0: everything posted; 3: some findings could not be posted (each is named on stderr);
4: the pull/merge request's head is not the commit the report reviewed (nothing posted);
2: bad usage, unreadable report or diff, or an API error before anything was posted.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from reviewbot.errors import EXIT_NOT_POSTED, EXIT_OK, ConfigError, ReviewbotError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        'publish', help='post a JSON report on a GitHub pull request or GitLab merge request',
        description=__doc__.splitlines()[0] + ' Tokens come from GITHUB_TOKEN / GITLAB_TOKEN; '
        'base URLs from GITHUB_API_URL / CI_API_V4_URL or the flags.')
    p.add_argument('--report', required=True, metavar='FILE.json',
                   help='a report from `reviewbot review --format json`')
    p.add_argument('--diff', metavar='FILE', help='the diff the report was computed on '
                   '(default: fetch the pull/merge request diff from the API)')
    gh = p.add_argument_group('GitHub')
    gh.add_argument('--github-pr', type=int, metavar='N', help='pull request number')
    gh.add_argument('--repo', metavar='OWNER/NAME', help='repository of the pull request')
    gh.add_argument('--github-api-url', metavar='URL',
                    help='API URL (default: $GITHUB_API_URL or https://api.github.com; '
                    'GitHub Enterprise: https://HOST/api/v3)')
    gh.add_argument('--app-id', metavar='ID', help='authenticate as this GitHub App ($GITHUB_APP_ID) '
                    'instead of with $GITHUB_TOKEN')
    gh.add_argument('--app-key-file', metavar='PEM', help='the App private key file '
                    '(or the key itself in $GITHUB_APP_PRIVATE_KEY)')
    gh.add_argument('--installation-id', type=int, metavar='ID',
                    help='the App installation ($GITHUB_APP_INSTALLATION_ID)')
    gh.add_argument('--bot-login', metavar='LOGIN', help="the account the token posts as, when it cannot say itself: "
                    "an installation token such as Actions' GITHUB_TOKEN ('github-actions[bot]'); "
                    'default $REVIEWBOT_BOT_LOGIN, else GET /user (or the App slug with --app-id)')
    gl = p.add_argument_group('GitLab')
    gl.add_argument('--gitlab-mr', type=int, metavar='N', help='merge request IID')
    gl.add_argument('--project', metavar='ID', help='project id or path (default: $CI_PROJECT_ID)')
    gl.add_argument('--gitlab-url', metavar='URL', help='server or API URL (default: $CI_API_V4_URL or https://gitlab.com)')
    p.add_argument('--reviewed-commit', metavar='SHA', help='the commit the report must have reviewed (e.g. the '
                   "CI event's head sha); a report naming another commit is refused")
    p.add_argument('--map-moved-head', action='store_true',
                   help='when the head moved since the review, move each finding to the line of the new diff '
                   'that holds its code (the others go to the summary) instead of refusing (exit 4); '
                   'the diff is then always read from the API')
    p.add_argument('--timeout', type=float, default=30.0, metavar='S', help='seconds per HTTP request (default 30)')
    p.add_argument('--max-wait', type=float, default=120.0, metavar='S',
                   help='longest single wait for a rate limit or retry (default 120)')
    p.add_argument('--attempts', type=int, default=5, metavar='N',
                   help='requests per API call, the first included (default 5)')
    p.add_argument('--backoff', type=float, default=2.0, metavar='S',
                   help='first wait before a retry when the server names none; doubles each time, '
                   'capped at --max-wait (default 2)')
    p.set_defaults(func=run)


def read_report(path: str) -> Any:
    from reviewbot.core import Report
    try:
        data = json.loads(Path(path).read_bytes())
        return Report.from_dict(data)
    except OSError as e:
        raise ReviewbotError(f'cannot read report {path}: {e.strerror or e}') from e
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ReviewbotError(f'{path} is not a reviewbot JSON report: {type(e).__name__}: {e}') from e


def _policy(args: argparse.Namespace) -> Any:
    from reviewbot.publish import RetryPolicy
    if args.attempts < 1 or args.timeout <= 0 or args.max_wait < 0 or args.backoff < 0:
        raise ConfigError('--attempts must be >= 1, --timeout > 0, --max-wait and --backoff >= 0')
    return RetryPolicy(attempts=args.attempts, timeout=args.timeout, max_delay=args.max_wait,
                       base_delay=args.backoff)


def _github_auth(args: argparse.Namespace) -> Any:
    from github import Auth
    app_id = args.app_id or os.environ.get('GITHUB_APP_ID')
    if app_id:
        key = os.environ.get('GITHUB_APP_PRIVATE_KEY', '')
        if args.app_key_file:
            try:
                key = Path(args.app_key_file).read_text(encoding='utf-8')
            except OSError as e:
                raise ConfigError(f'cannot read --app-key-file {args.app_key_file}: {e.strerror or e}') from e
        installation = args.installation_id or os.environ.get('GITHUB_APP_INSTALLATION_ID')
        if not key or not installation:
            raise ConfigError('GitHub App auth needs a private key (--app-key-file or $GITHUB_APP_PRIVATE_KEY) '
                              'and --installation-id (or $GITHUB_APP_INSTALLATION_ID)')
        return Auth.AppAuth(int(app_id), key).get_installation_auth(int(installation))
    token = os.environ.get('GITHUB_TOKEN')
    if not token:
        raise ConfigError('set GITHUB_TOKEN (a token with pull-requests: write) or use GitHub App auth (--app-id)')
    return Auth.Token(token)


def make_target(args: argparse.Namespace) -> Any:
    from reviewbot.publish import GitHubTarget, GitLabTarget
    if (args.github_pr is None) == (args.gitlab_mr is None):
        raise ConfigError('give exactly one of --github-pr N (with --repo) or --gitlab-mr N (with --project)')
    if args.map_moved_head and args.diff:
        raise ConfigError('--map-moved-head reads the current diff from the API; leave out --diff')
    expect = args.reviewed_commit
    if expect is not None and not re.fullmatch(r'[0-9a-f]{40}|[0-9a-f]{64}', expect):
        raise ConfigError(f'--reviewed-commit takes a full commit id (40 hex digits), not {expect[:80]!r}')
    policy = _policy(args)
    if args.github_pr is not None:
        repo = args.repo or os.environ.get('GITHUB_REPOSITORY')
        if not repo or repo.count('/') != 1:
            raise ConfigError('--github-pr needs --repo OWNER/NAME (or $GITHUB_REPOSITORY)')
        url = args.github_api_url or os.environ.get('GITHUB_API_URL') or 'https://api.github.com'
        bot_login = args.bot_login or os.environ.get('REVIEWBOT_BOT_LOGIN') or None
        return GitHubTarget(repo, args.github_pr, url, _github_auth(args), retry=policy, bot_login=bot_login,
                            expect_head=expect, map_moved_head=args.map_moved_head)
    project = args.project or os.environ.get('CI_PROJECT_ID')
    if not project:
        raise ConfigError('--gitlab-mr needs --project ID (or $CI_PROJECT_ID)')
    token = os.environ.get('GITLAB_TOKEN')
    if not token:
        raise ConfigError('set GITLAB_TOKEN (a project access token with api scope; CI_JOB_TOKEN cannot comment)')
    url = args.gitlab_url or os.environ.get('CI_API_V4_URL') or 'https://gitlab.com'
    return GitLabTarget(int(project) if project.isdigit() else project, args.gitlab_mr, url, token, retry=policy,
                        expect_head=expect, map_moved_head=args.map_moved_head)


def load_diff(args: argparse.Namespace, target: Any, report: Any = None) -> Any:
    from reviewbot.core import diff_sha256
    from reviewbot.diffparse import parse_diff
    from reviewbot.publish import GitHubTarget
    if args.diff:
        try:
            data = sys.stdin.buffer.read() if args.diff == '-' else Path(args.diff).read_bytes()
        except OSError as e:
            raise ReviewbotError(f'cannot read diff {args.diff}: {e.strerror or e}') from e
        reviewed = getattr(report, 'reviewed', None)
        if reviewed is not None and diff_sha256(data) != reviewed.diff_sha256:
            raise ReviewbotError(f'the diff {args.diff} is not the one the report was computed on '
                                 '(its sha256 differs from reviewed.diff_sha256); pass that diff, or leave '
                                 'out --diff to read it from the API')
    elif isinstance(target, GitHubTarget):
        from reviewbot.publish.github import fetch_diff_bytes
        data = fetch_diff_bytes(target)
    else:
        from reviewbot.publish.gitlab import fetch_diff_bytes as fetch_gitlab
        data = fetch_gitlab(target)
    return parse_diff(data)


def run(args: argparse.Namespace) -> int:
    from reviewbot import extras
    extras.require('publish', '`reviewbot publish`', ('github' if args.github_pr is not None else 'gitlab',))
    from reviewbot.publish import publish_report
    report = read_report(args.report)
    target = make_target(args)
    diff = load_diff(args, target, report)
    result = publish_report(report, diff, target)  # PublishError: one line, exit 2 (cli.main)
    if result.ok:
        print(result.describe())
        return EXIT_OK
    print(result.describe(), file=sys.stderr)
    what = f'{len(result.not_posted)} finding(s)' + (' and the summary' if result.summary_error else '')
    print(f'reviewbot: {what} NOT posted (listed above)', file=sys.stderr)
    return EXIT_NOT_POSTED
