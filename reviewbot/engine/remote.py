"""The in-house server as a Backend: use a configured `reviewbot serve` instead of loading the model.

`model_for(config)` is how a reviewer gets its model when `server` is configured:
- inside the server's model thread: the server's own model (one instance, one owner; the server
  binds it with bind_thread_model);
- `server = "http://..."` with `server_is_local = true`: a RemoteModel talking to that server;
- `server` set but not declared local: ConfigError - code is never sent to a server that is not
  known to be in-house (privacy fails closed);
- otherwise: the engine's load_model(...) on this machine.

RemoteModel is an engine.Backend (reviewbot.engine.backend: name, context_length, tokenizer,
encode, decode, chat_prompt, generate, next_token_logprobs, token_surprisals); every request it
makes is recorded for the report's `egress` (take_egress). httpx is imported only when a server is
actually used.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import threading
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

from reviewbot.config import Config, credential_env_problem
from reviewbot.engine.backend import Backend, GenerationResult
from reviewbot.errors import ConfigError, ModelError

_thread_model = threading.local()

RETRY_STATUSES = (429, 503)
MAX_RETRY_WAIT = 30.0
MAX_ATTEMPTS = 4


def bind_thread_model(model: Any) -> None:
    """Called by the server's model thread: model_for() on that thread returns `model`."""
    _thread_model.model = model


def model_for(config: Config) -> Backend:
    served = getattr(_thread_model, 'model', None)
    if served is not None:
        return served
    url = config.server
    if url:
        if not config.server_is_local:
            raise ConfigError(f'server = {url!r} is not declared in-house, so no code is sent to it: set '
                              'server_is_local = true if your organisation runs it, or remove server')
        env = config.server_token_env
        if env and (problem := credential_env_problem(env)):  # also checked when the config loads
            raise ConfigError(f'server_token_env {problem}')
        token = os.environ.get(env, '').strip() if env else ''
        return RemoteModel(url, token=token or None, token_env=env if token else None)
    from reviewbot.engine import load_model
    return load_model(config.model, model_dir=config.model_dir or None, threads=config.threads)


class RemoteModel:
    """The engine.Backend surface, served by `reviewbot serve`."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 300.0,
                 token_env: str | None = None) -> None:
        import httpx
        self.url = url.rstrip('/')
        headers = {'Authorization': f'Bearer {token}'} if token else {}
        self._timeout = timeout
        self._token_env = token_env if token else None
        # One record per request, made before it is sent: the reviewer moves them into the report's
        # `egress` (an in-house server is still "off this machine").
        self.egress: list[dict[str, Any]] = []
        self._client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout,
                                    trust_env=False)  # never route in-house code through a proxy
        self._tokenizer: Any = None
        info = self._request('GET', '/v1/models', None, None)
        try:
            entry = info['data'][0]
            self.name = str(entry['id'])
            self.context_length = int(entry['context_length'])
        except (KeyError, IndexError, TypeError, ValueError):
            raise ModelError(f'{self.url} does not look like a reviewbot server (bad /v1/models)') from None

    def _record(self, method: str, path: str, content: bytes, attempt: int) -> None:
        self.egress.append(egress_record(self.url + path, method, content, attempt, self._token_env))

    def take_egress(self) -> list[dict[str, Any]]:
        """The records made since the last call (each request is reported once)."""
        taken, self.egress = self.egress, []
        return taken

    def close(self) -> None:
        self._client.close()

    @property
    def tokenizer(self) -> Any:
        """The server model's tokenizer (fetched once), for counting tokens locally."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer
            text = self._request('GET', '/v1/reviewbot/tokenizer', None, None, raw=True)
            try:
                self._tokenizer = Tokenizer.from_str(text)
            except Exception:  # any parse failure means the same to the user
                raise ModelError(f'{self.url} sent a tokenizer that cannot be read') from None
        return self._tokenizer

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def next_token_logprobs(self, prompt: str, candidates: Sequence[str],
                            deadline: float | None = None) -> dict[str, float]:
        out = self._request('POST', '/v1/reviewbot/next_token_logprobs',
                            {'prompt': prompt, 'candidates': list(candidates)}, deadline)
        try:
            return {str(k): (-math.inf if v is None else float(v)) for k, v in out['logprobs'].items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ModelError(f'{self.url}: bad answer to next_token_logprobs') from None

    def token_surprisals(self, prefix: str, text: str, deadline: float | None = None) -> list[float]:
        out = self._request('POST', '/v1/reviewbot/token_surprisals', {'prefix': prefix, 'text': text},
                            deadline)
        try:
            return [float(v) for v in out['surprisals']]
        except (KeyError, TypeError, ValueError):
            raise ModelError(f'{self.url}: bad answer to token_surprisals') from None

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str:
        out = self._request('POST', '/v1/reviewbot/chat_prompt', {'messages': list(messages)}, None)
        prompt = out.get('prompt') if isinstance(out, dict) else None
        if not isinstance(prompt, str):
            raise ModelError(f'{self.url}: bad answer to chat_prompt')
        return prompt

    def generate(self, prompt: str, max_new_tokens: int = 128, stop: Sequence[str] = (),
                 temperature: float = 0.0, seed: int = 0, deadline: float | None = None) -> GenerationResult:
        body: dict[str, Any] = {'prompt': prompt, 'max_tokens': max_new_tokens, 'stop': list(stop) or None,
                                'temperature': temperature, 'seed': seed}
        out = self._request('POST', '/v1/completions', body, deadline)
        try:
            ext = out['reviewbot']
            return GenerationResult(
                text=out['choices'][0]['text'], token_ids=list(ext['token_ids']),
                stop_reason=ext['stop_reason'], prompt_tokens=int(out['usage']['prompt_tokens']),
                prefill_seconds=float(ext['prefill_seconds']), decode_seconds=float(ext['decode_seconds']))
        except (KeyError, IndexError, TypeError, ValueError):
            raise ModelError(f'{self.url}: bad answer to a completion request') from None

    def _request(self, method: str, path: str, body: dict[str, Any] | None, deadline: float | None,
                 raw: bool = False) -> Any:
        import httpx
        for attempt in range(MAX_ATTEMPTS):
            timeout = self._timeout
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ModelError(f'{self.url}: no time left for the request')
                timeout = min(timeout, left + 5.0)  # the server stops at the deadline; allow the reply
                if body is not None:
                    body = dict(body, timeout=max(0.001, left))
            content = json.dumps(body).encode('utf-8') if body is not None else b''
            self._record(method, path, content, attempt + 1)
            try:
                response = self._client.request(
                    method, path, content=content or None, timeout=timeout,
                    headers={'Content-Type': 'application/json'} if body is not None else None)
            except httpx.TimeoutException:
                raise ModelError(f'{self.url}: the server did not answer in time') from None
            except httpx.HTTPError as e:
                raise ModelError(f'cannot reach the model server {self.url}: {e.__class__.__name__}') from None
            if response.status_code in RETRY_STATUSES:
                wait = _retry_after(response)
                last = attempt == MAX_ATTEMPTS - 1
                if not last and wait <= MAX_RETRY_WAIT and (deadline is None or time.monotonic() + wait < deadline):
                    time.sleep(wait)  # queue full or restarting: the server said when to come back
                    continue
            if response.status_code == 401:
                raise ModelError(f'{self.url} refused the token (401): set the variable named by '
                                 'server_token_env to the server\'s token')
            if response.status_code >= 400:
                raise ModelError(f'{self.url}{path} answered {response.status_code}: {_message(response)}')
            if raw:
                return response.text
            try:
                return response.json()
            except ValueError:
                raise ModelError(f'{self.url}{path} did not answer with JSON') from None
        raise AssertionError('unreachable')  # the last attempt returns or raises


def egress_record(url: str, method: str, content: bytes, attempt: int,
                  token_env: str | None) -> dict[str, Any]:
    """The report's `egress` entry for one request to an in-house server (docs/report-json.md)."""
    return {
        'time': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'destination': 'server',
        'endpoint_host': urllib.parse.urlsplit(url).hostname or '',
        'url': url,
        'method': method,
        'bytes': len(content),
        'sha256': hashlib.sha256(content).hexdigest(),
        'attempt': attempt,
        'credential_env': token_env,  # whose token went with it (the value never appears)
    }


def _retry_after(response: Any) -> float:
    try:
        return max(0.0, float(response.headers.get('retry-after', '1')))
    except ValueError:
        return 1.0


def _message(response: Any) -> str:
    try:
        return str(response.json()['error']['message'])[:200]
    except Exception:  # not our error format: fall back to the status text
        return response.reason_phrase or 'error'
