"""The cloud reviewer: a hosted LLM reviews PUBLIC code, behind the fail-closed privacy gate.

review() itself asks the gate (reviewbot.privacy.gate.decide) on every call, so no caller can skip
it. When the gate allows, the diff is redacted and bounded (reviewbot.privacy.payload), a receipt is
written for each request before it leaves (reviewbot.privacy.receipts), and the answer -- JSON lines,
one finding each -- is parsed strictly: a finding must point at an added line that was sent.
Protocols: OpenAI-compatible POST {base_url}/chat/completions (also in-house gateways), or
Anthropic POST {base_url}/messages. The API key is read only from the variable named by
cloud.api_key_env, which may never be a CI platform's credential (GITHUB_TOKEN, CI_JOB_TOKEN, ...).
In CI every cloud.* key comes from the base commit's config (reviewbot.ci_env.trusted_config), never
from the pull request. Any failure is a note in the report; the local review goes on.
"""
from __future__ import annotations

import email.utils
import json
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from reviewbot.config import Config, credential_env_problem
from reviewbot.core import FileChange, Finding, Severity
from reviewbot.errors import ReviewbotError
from reviewbot.forge import PlatformContext, detect, from_git_remotes
from reviewbot.privacy import gate as gate_mod
from reviewbot.privacy import payload as payload_mod
from reviewbot.privacy import receipts
from reviewbot.privacy.visibility import LOOPBACK_HOSTS, Visibility
from reviewbot.privacy.visibility import fetch as fetch_visibility_api
from reviewbot.reviewers import ReviewContext, ReviewerResult

DEFAULT_BASE_URL = {'openai': 'https://api.openai.com/v1', 'anthropic': 'https://api.anthropic.com/v1'}
DEFAULT_KEY_ENV = {'openai': 'OPENAI_API_KEY', 'anthropic': 'ANTHROPIC_API_KEY'}
ENDPOINT_PATH = {'openai': '/chat/completions', 'anthropic': '/messages'}
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
MAX_MESSAGE_CHARS = 2000
MAX_SUGGESTION_CHARS = 8000
_CATEGORY = re.compile(r'^[a-z][a-z0-9_\-]*(?:/[a-z0-9_.\-]+){0,3}$')


class CloudError(ReviewbotError):
    """The cloud API could not be used in this run."""


def endpoint(cloud: dict[str, Any]) -> str:
    """The full URL POSTed to. https only, except a loopback host (tests, local gateways)."""
    provider = cloud['provider']
    base = (cloud.get('base_url') or DEFAULT_BASE_URL[provider]).rstrip('/')
    url = base + ENDPOINT_PATH[provider]
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ''
    if parts.scheme != 'https' and not (parts.scheme == 'http' and host in LOOPBACK_HOSTS):
        raise CloudError(f'cloud.base_url must be https:// (got {base!r})')
    if parts.username or parts.password:
        raise CloudError('cloud.base_url must not carry credentials; use cloud.api_key_env')
    return url


REMOTE = True  # the only reviewer module that may send code off the machine (behind the gate)


class CloudReviewer:
    name = 'cloud'
    remote = True  # the only reviewer that may send code off the machine (behind the gate)

    def __init__(
        self,
        config: Config | None = None,
        *,
        env: Mapping[str, str] | None = None,
        fetch_visibility: gate_mod.FetchVisibility | None = None,
        transport: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff_base: float = 1.0,
    ) -> None:
        # env/transport/sleep are parameters so tests run the real code against loopback servers
        self.env = os.environ if env is None else env
        self._fetch_visibility = fetch_visibility
        self.transport = transport
        self.sleep = sleep
        self.backoff_base = backoff_base

    # -- the gate ----------------------------------------------------------------------------

    def _platform(self, ctx: ReviewContext) -> tuple[PlatformContext | None, str]:
        if ctx.platform is not None:
            if isinstance(ctx.platform, PlatformContext):
                return ctx.platform, ''
            return None, f'unrecognised platform context {type(ctx.platform).__name__}'
        # CI variables are trusted to name the repository only in the 'ci' stage (set by the
        # runner); on a developer's machine the clone's own remotes say where the code belongs.
        if ctx.stage == 'ci' and (found := detect(self.env)) is not None:
            return found, ''
        if ctx.repo_root is not None:
            return from_git_remotes(ctx.repo_root, self.env)
        return None, 'no CI platform and no repository to read remotes from'

    def _fetch(self, cloud: dict[str, Any]) -> gate_mod.FetchVisibility:
        if self._fetch_visibility is not None:
            return self._fetch_visibility
        timeout = float(cloud['visibility_timeout'])

        def fetch(pctx: PlatformContext, repo: str) -> Visibility:
            return fetch_visibility_api(pctx, repo, timeout=timeout)
        return fetch

    def _prepare(self, files: list[FileChange], ctx: ReviewContext, result: ReviewerResult
                 ) -> tuple[dict[str, Any], payload_mod.Payload, bytes, str, str, str] | None:
        """Gate + payload. Returns (cloud cfg, payload, body, url, api key, repo) or None with notes."""
        cloud = ctx.config.section('cloud')
        if not cloud['enabled']:
            result.notes.append('cloud: not used: cloud reviewer is disabled (cloud.enabled = false)')
            result.stats['gate'] = 'denied'
            return None
        pctx, why = self._platform(ctx)
        decision = gate_mod.decide(cloud, pctx, ctx.stage, files, self._fetch(cloud))
        if pctx is None and why:
            decision.reasons = [r + f' ({why})' if r.startswith('unknown platform') else r
                                for r in decision.reasons]
        result.notes.extend(decision.notes())
        result.stats['gate'] = 'allowed' if decision.allowed else 'denied'
        for f in decision.files_denied if decision.allowed else ():
            result.skipped.append(_skip(f, 'cloud: path on the cloud deny list, not sent'))
        if not decision.allowed:
            return None
        assert pctx is not None
        try:
            if not cloud['model']:
                raise CloudError('cloud.model is not set')
            url = endpoint(cloud)
            key_env = cloud['api_key_env'] or DEFAULT_KEY_ENV[cloud['provider']]
            if problem := credential_env_problem(key_env):  # also checked when the config loads
                raise CloudError(f'cloud.api_key_env {problem}')
            api_key = self.env.get(key_env, '')
            if not api_key:
                raise CloudError(f'the API key variable {key_env} is not set')
            payload = payload_mod.build(decision.files_allowed, cloud)
        except ReviewbotError as e:
            result.notes.append(f'cloud: not used: {e}')
            return None
        result.skipped.extend(payload.skipped)
        if not payload.user:
            result.notes.append('cloud: not used: nothing fits the payload budget')
            return None
        body = payload_mod.request_body(cloud['provider'], cloud['model'], payload)
        if len(body) > cloud['max_payload_bytes']:  # cannot happen by construction; never send it
            result.notes.append(f'cloud: not used: request body {len(body)} bytes exceeds '
                                f'cloud.max_payload_bytes')
            return None
        repo = pctx.base_repo or pctx.repo
        return cloud, payload, body, url, api_key, repo

    # -- Reviewer protocol -------------------------------------------------------------------

    def plan(self, files: list[FileChange], ctx: ReviewContext) -> list[str]:
        """--dry-run: the gate's decision and, if allowed, the exact request body. Sends nothing."""
        import hashlib

        result = ReviewerResult()
        try:
            prepared = self._prepare(files, ctx, result)
        except Exception as e:  # as in review(): report it, send nothing
            result.notes.append(f'cloud: not used: internal error ({type(e).__name__}: {e})')
            prepared = None
        lines = list(result.notes)
        if prepared is None:
            lines.append('cloud: leaves this machine: nothing')
            return lines
        cloud, payload, body, url, _, _ = prepared
        lines.append(f'cloud: would send {len(body)} bytes to {url} (model {cloud["model"]}, '
                     f'{len(payload.files)} files, {len(payload.hunks)} hunks, '
                     f'{payload.redactions} redactions, sha256 {hashlib.sha256(body).hexdigest()})')
        lines.append('cloud: exact request body follows:')
        lines.append(body.decode('utf-8'))
        return lines

    def review(self, files: list[FileChange], ctx: ReviewContext) -> ReviewerResult:
        result = ReviewerResult()
        try:
            self._review(files, ctx, result)
        except Exception as e:  # a defect here must not end the local review
            result.notes.append(f'cloud: failed: internal error ({type(e).__name__}: {e})')
        return result

    def _review(self, files: list[FileChange], ctx: ReviewContext, result: ReviewerResult) -> None:
        prepared = self._prepare(files, ctx, result)
        if prepared is None:
            return
        cloud, payload, body, url, api_key, repo = prepared
        stats = result.stats
        stats.update(files_sent=len(payload.files), hunks_sent=len(payload.hunks),
                     redactions=payload.redactions, bytes=len(body), requests=0)
        if ctx.dry_run:
            result.notes.append(f'cloud: dry run: would send {len(body)} bytes to {url}; sent nothing')
            return
        try:
            answer = self._send(cloud, url, api_key, body, payload, repo, ctx, result)
        except ReviewbotError as e:
            result.notes.append(f'cloud: failed: {e}')
            return
        text, usage = _answer_text(cloud['provider'], answer)
        prompt_tokens, completion_tokens = usage
        cost = (prompt_tokens / 1000 * float(cloud['price_per_1k_input'])
                + completion_tokens / 1000 * float(cloud['price_per_1k_output']))
        stats.update(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                     cost=round(cost, 6))
        findings, invalid, outside = parse_findings(text, payload, cloud['model'])
        result.findings.extend(findings)
        stats.update(findings=len(findings), invalid_lines=invalid, outside_sent_lines=outside)
        cost_text = f', cost {cost:.4f}' if cost else ''
        result.notes.append(
            f'cloud: reviewed {len(payload.hunks)} hunks in {len(payload.files)} files with '
            f'{cloud["model"]} at {urllib.parse.urlsplit(url).hostname}: {len(findings)} findings, '
            f'{prompt_tokens}+{completion_tokens} tokens{cost_text}, {payload.redactions} redactions')
        if invalid or outside:
            result.notes.append(f'cloud: ignored {invalid} unparseable answer lines and {outside} '
                                'findings not on a line that was sent')

    # -- HTTP --------------------------------------------------------------------------------

    def _send(self, cloud: dict[str, Any], url: str, api_key: str, body: bytes,
              payload: payload_mod.Payload, repo: str, ctx: ReviewContext,
              result: ReviewerResult) -> dict[str, Any]:
        import httpx

        host = urllib.parse.urlsplit(url).hostname or ''
        headers = {'Content-Type': 'application/json', 'User-Agent': 'reviewbot'}
        if cloud['provider'] == 'anthropic':
            headers.update({'x-api-key': api_key, 'anthropic-version': '2023-06-01'})
        else:
            headers['Authorization'] = f'Bearer {api_key}'
        path = receipts.receipts_path(cloud, ctx.repo_root)
        inside = receipts.confined_to(cloud, ctx.repo_root)
        key_env = cloud['api_key_env'] or DEFAULT_KEY_ENV[cloud['provider']]
        attempts = int(cloud['max_retries']) + 1
        read_timeout = float(cloud['timeout_read'])
        with httpx.Client(transport=self.transport, follow_redirects=False,
                          trust_env=host not in LOOPBACK_HOSTS) as client:
            for attempt in range(1, attempts + 1):
                left = ctx.time_left()
                if left is not None and left <= 1:
                    raise CloudError('out of time budget before the request')
                timeout = httpx.Timeout(connect=float(cloud['timeout_connect']),
                                        read=min(read_timeout, left) if left else read_timeout,
                                        write=float(cloud['timeout_connect']) + 10, pool=5.0)
                receipt = receipts.make_receipt(
                    url=url, host=host, provider=cloud['provider'], model=cloud['model'], body=body,
                    files=payload.files, hunks=payload.hunks, redactions=payload.redactions,
                    attempt=attempt, repo=repo, stage=ctx.stage)
                receipts.append(path, receipt, inside)  # raises: no receipt, no request
                result.egress.append({**receipt, 'destination': 'cloud', 'method': 'POST',
                                      'credential_env': key_env,
                                      'receipts_file': str(path)})
                result.stats['requests'] = attempt
                wait: float | None
                try:
                    resp = client.post(url, content=body, headers=headers, timeout=timeout)
                except httpx.TimeoutException:
                    problem, wait = 'timed out', self._backoff(attempt)
                except httpx.HTTPError as e:
                    problem, wait = f'connection failed ({type(e).__name__})', self._backoff(attempt)
                else:
                    if resp.status_code == 200:
                        try:
                            data = resp.json()
                        except ValueError:
                            raise CloudError('the API answered with invalid JSON') from None
                        if not isinstance(data, dict):
                            raise CloudError('the API answered with unexpected JSON')
                        return data
                    problem = f'HTTP {resp.status_code}'
                    if resp.status_code not in RETRY_STATUS:
                        raise CloudError(f'the API answered {problem}')
                    wait = _retry_after(resp.headers.get('retry-after'))
                    if wait is None:
                        wait = self._backoff(attempt)
                    elif wait > float(cloud['max_retry_wait']):
                        raise CloudError(f'the API answered {problem} and asks to wait {wait:.0f} s '
                                         f'(> cloud.max_retry_wait)')
                if attempt == attempts:
                    raise CloudError(f'the API request {problem} after {attempts} attempts')
                wait = min(wait, float(cloud['max_retry_wait']))
                left = ctx.time_left()
                if left is not None and wait >= left:
                    raise CloudError(f'the API request {problem}; no time left to retry')
                self.sleep(wait)
        raise CloudError('unreachable')  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        return self.backoff_base * (2 ** (attempt - 1))


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _skip(f: FileChange, reason: str) -> Any:
    from reviewbot.core import Skipped
    return Skipped(f.path, reason, 'cloud', lines=f.added_count)


def _answer_text(provider: str, data: dict[str, Any]) -> tuple[str, tuple[int, int]]:
    """(text, (prompt tokens, completion tokens)) from a chat-completions or messages answer."""
    raw_usage = data.get('usage')
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    text: Any = ''
    if provider == 'anthropic':
        raw_blocks = data.get('content')
        blocks: list[Any] = raw_blocks if isinstance(raw_blocks, list) else []
        text = ''.join(b.get('text', '') for b in blocks if isinstance(b, dict) and b.get('type') == 'text')
        tokens = (usage.get('input_tokens', 0), usage.get('output_tokens', 0))
    else:
        raw_choices = data.get('choices')
        choices: list[Any] = raw_choices if isinstance(raw_choices, list) else []
        msg = choices[0].get('message') if choices and isinstance(choices[0], dict) else None
        text = msg.get('content') if isinstance(msg, dict) else ''
        tokens = (usage.get('prompt_tokens', 0), usage.get('completion_tokens', 0))
    text = text if isinstance(text, str) else ''
    return text, tuple(t if isinstance(t, int) and not isinstance(t, bool) else 0 for t in tokens)  # type: ignore[return-value]


def parse_findings(text: str, payload: payload_mod.Payload, model: str) -> tuple[list[Finding], int, int]:
    """Strictly parse JSON-lines findings. Returns (findings, unparseable lines, off-payload findings).

    The answer is untrusted: a line is used only if it is a JSON object with exactly the documented
    keys and types, pointing at an added line that was sent; everything else is counted and dropped.
    """
    findings: list[Finding] = []
    invalid = outside = 0
    required = {'path': str, 'line': int, 'severity': str, 'category': str, 'message': str}
    optional = {'end_line': int, 'suggestion': str}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith('```'):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            invalid += 1
            continue
        if (not isinstance(obj, dict) or set(obj) - set(required) - set(optional)
                or any(not isinstance(obj.get(k), t) or isinstance(obj.get(k), bool)
                       for k, t in required.items())
                or any(k in obj and obj[k] is not None and (not isinstance(obj[k], t)
                                                             or isinstance(obj[k], bool))
                       for k, t in optional.items())):
            invalid += 1
            continue
        category = obj['category'].strip().lower()
        message = obj['message'].strip()
        if (obj['severity'] not in ('error', 'warning', 'info') or not _CATEGORY.match(category)
                or not message):
            invalid += 1
            continue
        path, start = obj['path'], obj['line']
        if start not in payload.sent_lines.get(path, ()):
            outside += 1
            continue
        end = obj.get('end_line') or start
        span = next(((a, b) for a, b in payload.hunk_spans[path] if a <= start <= b), None)
        if span is None or not start <= end <= span[1]:
            end = start
        suggestion = obj.get('suggestion')
        if suggestion is not None and (len(suggestion) > MAX_SUGGESTION_CHARS
                                       or payload_mod.MASK in suggestion
                                       or payload_mod.WITHHELD in suggestion):
            suggestion = None  # never suggest replacing a real value with the redaction mask
        findings.append(Finding(
            path=path, line=start, end_line=end, severity=Severity(obj['severity']),
            category=category, message=message[:MAX_MESSAGE_CHARS], reviewer='cloud',
            suggestion=suggestion, extra={'model': model},
        ))
    return findings, invalid, outside


def from_config(config: Config, **_: Any) -> CloudReviewer:
    """The registry's factory (reviewbot.reviewers.REGISTRY)."""
    return CloudReviewer(config)
