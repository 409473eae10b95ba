"""The HTTP surface of `reviewbot serve` (Starlette).

Every model-using request becomes one job for the model thread (reviewbot.server.worker); the
event loop only authenticates, reads bounded bodies, validates, queues and answers. Request
bodies are never logged: errors name what was wrong, never the content.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from reviewbot import defaults as default
from reviewbot.config import Config
from reviewbot.errors import DiffError, ModelError, ReviewbotError
from reviewbot.server.metrics import Metrics, prometheus_text
from reviewbot.server.worker import DeadlineExpired, ModelWorker, QueueFull, Unavailable

log = logging.getLogger('reviewbot.server')

STAGES = ('cli', 'pre-commit', 'pre-push', 'ci')
ROLES = ('system', 'user', 'assistant')
DIFF_TYPES = ('text/x-diff', 'text/x-patch', 'text/plain')


@dataclasses.dataclass
class Settings:
    model_name: str
    token: str | None = None  # bearer token; None: no authentication (loopback only)
    max_request_bytes: int = default.SERVER_MAX_REQUEST_BYTES
    request_timeout: float = default.SERVER_REQUEST_TIMEOUT  # from arrival to answer, queue wait included
    max_tokens: int = default.SERVER_MAX_TOKENS  # most new tokens one request may ask for


class ApiError(Exception):
    def __init__(self, status: int, message: str, reason: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason  # label in the rejected-requests metric
        self.headers = headers or {}


class RequestInvalid(ApiError):
    """Raised inside a job when the request cannot be served as asked (e.g. prompt too long)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message, 'bad_request')


def _error_type(status: int) -> str:
    return {400: 'invalid_request_error', 401: 'authentication_error', 413: 'request_too_large',
            415: 'invalid_request_error', 429: 'rate_limit_error', 503: 'unavailable',
            504: 'timeout'}.get(status, 'server_error')


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({'error': {'message': message, 'type': _error_type(status), 'code': status}},
                        status_code=status, headers=headers)


class ServerState:
    def __init__(self, worker: ModelWorker, config: Config, settings: Settings, metrics: Metrics):
        self.worker = worker
        self.config = config
        self.settings = settings
        self.metrics = metrics
        self.draining = False  # set when shutdown begins: new model requests get 503

    def retry_after(self) -> str:
        # roughly when a slot frees up: the mean job time times the jobs ahead
        wait = self.metrics.mean_job_seconds() * (self.worker.depth + 1)
        return str(max(1, min(120, math.ceil(wait))))


def _check_auth(state: ServerState, request: Request) -> None:
    token = state.settings.token
    if token is None:
        return
    header = request.headers.get('authorization', '')
    scheme, _, given = header.partition(' ')
    if scheme.lower() != 'bearer' or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(401, 'missing or wrong bearer token', 'unauthorized',
                       {'WWW-Authenticate': 'Bearer'})


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) as soon as it is known to exceed `limit` - before reading it all."""
    declared = request.headers.get('content-length')
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, 'invalid Content-Length', 'bad_request')
        if int(declared) > limit:
            raise ApiError(413, f'request body over {limit} bytes', 'too_large')
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f'request body over {limit} bytes', 'too_large')
    return bytes(body)


MAX_JSON_DEPTH = 32  # nested arrays/objects: no request needs more (messages[].content[] is 4)
MAX_INT_DIGITS = 20  # an integer in a request is a count, a seed or a limit (int64 has 19 digits)


def _bounded_int(text: str) -> int:
    if len(text.lstrip('-')) > MAX_INT_DIGITS:
        raise ApiError(400, f'malformed JSON: an integer longer than {MAX_INT_DIGITS} digits',
                       'bad_request')
    return int(text)


def _json_depth(value: Any) -> int:
    """How deeply arrays/objects nest in a parsed value (iterative: no recursion of our own)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body, parse_int=_bounded_int)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ApiError(400, f'malformed JSON: {e.__class__.__name__} at position '
                       f'{getattr(e, "pos", getattr(e, "start", "?"))}', 'bad_request') from None
    except RecursionError:  # the parser recurses per level: 100k nested '[' end here
        raise ApiError(400, f'malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels',
                       'bad_request') from None
    except ValueError as e:  # anything else the parser refuses is still bad input
        raise ApiError(400, f'malformed JSON: {e.__class__.__name__}', 'bad_request') from None
    if _json_depth(value) > MAX_JSON_DEPTH:
        raise ApiError(400, f'malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels', 'bad_request')
    if not isinstance(value, dict):
        raise ApiError(400, 'the JSON body must be an object', 'bad_request')
    return value


def _deadline(state: ServerState, body: dict[str, Any], arrived: float) -> float:
    seconds = state.settings.request_timeout
    asked = body.get('timeout')  # extension: a client with its own budget asks for less
    if asked is not None:
        if isinstance(asked, bool) or not isinstance(asked, (int, float)) or asked <= 0:
            raise ApiError(400, 'timeout must be a positive number of seconds', 'bad_request')
        seconds = min(seconds, float(asked))
    return arrived + seconds


def _generation_args(state: ServerState, body: dict[str, Any]) -> dict[str, Any]:
    max_tokens = body.get('max_tokens', body.get('max_completion_tokens', 128))
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ApiError(400, 'max_tokens must be a positive integer', 'bad_request')
    if max_tokens > state.settings.max_tokens:
        raise ApiError(400, f'max_tokens must be <= {state.settings.max_tokens}', 'bad_request')
    temperature = body.get('temperature', 0.0)
    if temperature is None:
        temperature = 0.0
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
        raise ApiError(400, 'temperature must be a number from 0 to 2', 'bad_request')
    stop = body.get('stop')
    if stop is None:
        stop = []
    elif isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) and s for s in stop):
        raise ApiError(400, 'stop must be a non-empty string or a list of up to 4 of them', 'bad_request')
    seed = body.get('seed', 0)
    if seed is None:
        seed = 0
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ApiError(400, 'seed must be an integer', 'bad_request')
    if body.get('stream'):
        raise ApiError(400, 'stream is not supported by this server; send stream: false', 'bad_request')
    n = body.get('n', 1)
    if n != 1:
        raise ApiError(400, 'only n = 1 is supported', 'bad_request')
    return {'max_new_tokens': max_tokens, 'stop': tuple(stop), 'temperature': float(temperature),
            'seed': seed}


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    messages = body.get('messages')
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, 'messages must be a non-empty list', 'bad_request')
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get('role') not in ROLES:
            raise ApiError(400, f'messages[{i}].role must be one of {", ".join(ROLES)}', 'bad_request')
        content = m.get('content')
        if isinstance(content, list):  # OpenAI content parts: only text parts are meaningful here
            if not all(isinstance(p, dict) and p.get('type') == 'text' and isinstance(p.get('text'), str)
                       for p in content):
                raise ApiError(400, f'messages[{i}].content parts must all be text', 'bad_request')
            content = ''.join(p['text'] for p in content)
        if not isinstance(content, str):
            raise ApiError(400, f'messages[{i}].content must be a string', 'bad_request')
        out.append({'role': m['role'], 'content': content})
    return out


def _finish_reason(stop_reason: str) -> str:
    return 'stop' if stop_reason in ('eos', 'stop', 'stop_sequence') else 'length'


def _generate(model: Any, prompt: str, args: dict[str, Any], deadline: float) -> Any:
    """Run on the model thread: generate, keeping prompt + new tokens inside the context window."""
    room = model.context_length - _prompt_tokens(model, prompt) - 1
    args = dict(args, max_new_tokens=min(args['max_new_tokens'], room))
    return model.generate(prompt, deadline=deadline, **args)


def _prompt_tokens(model: Any, text: str) -> int:
    """Tokens in `text`; a 400 (not a model failure) when they cannot fit the context."""
    n = len(model.tokenizer.encode(text, add_special_tokens=False).ids)
    if n >= model.context_length - 1:
        raise RequestInvalid(f'the prompt has {n} tokens; the model context is {model.context_length}')
    return n


def _usage(result: Any) -> dict[str, int]:
    n = len(result.token_ids)
    return {'prompt_tokens': result.prompt_tokens, 'completion_tokens': n,
            'total_tokens': result.prompt_tokens + n}


def _extension(result: Any) -> dict[str, Any]:
    # what RemoteModel needs to rebuild a GenerationResult; ignored by OpenAI clients
    return {'token_ids': list(result.token_ids), 'stop_reason': result.stop_reason,
            'prefill_seconds': result.prefill_seconds, 'decode_seconds': result.decode_seconds}


Handler = Callable[[ServerState, Request, float], Awaitable[Response]]


def _endpoint(name: str, handler: Handler, *, model_request: bool = True,
              auth: bool = True) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: ServerState = request.app.state.server
        arrived = time.monotonic()
        try:
            if model_request and (state.draining or state.worker.closing):
                raise ApiError(503, 'the server is shutting down', 'shutting_down',
                               {'Retry-After': '5'})
            if auth:
                _check_auth(state, request)
            response = await handler(state, request, arrived)
        except ApiError as e:
            state.metrics.count_rejection(e.reason)
            response = error_response(e.status, e.message, e.headers)
        except Exception as e:  # noqa: BLE001 - a bug must still answer JSON, and log no traceback
            log.error('%s failed: %s', name, e.__class__.__name__)
            response = error_response(500, f'internal error ({e.__class__.__name__})')
        state.metrics.count_response(name, response.status_code)
        return response
    return endpoint


async def _run_job(state: ServerState, run: Callable[[Any], Any], deadline: float) -> Any:
    try:
        future = state.worker.submit(run, deadline)
    except QueueFull as e:
        raise ApiError(429, str(e), 'queue_full', {'Retry-After': state.retry_after()}) from None
    except Unavailable as e:
        raise ApiError(503, str(e), 'unavailable', {'Retry-After': '5'}) from None
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        future.cancel()  # client gone: do not start the job if it has not started
        raise
    except ApiError:
        raise
    except DeadlineExpired as e:
        raise ApiError(504, str(e), 'timeout') from None
    except DiffError as e:
        raise ApiError(400, f'cannot parse the diff: {e}', 'bad_request') from None
    except ModelError as e:
        raise ApiError(503, f'model unavailable: {e}', 'unavailable', {'Retry-After': '30'}) from None
    except ReviewbotError as e:
        raise ApiError(500, str(e), 'error') from None
    except Exception as e:  # noqa: BLE001 - never echo the request; the type is enough to find it in the code
        log.error('job failed: %s', e.__class__.__name__)
        raise ApiError(500, f'internal error ({e.__class__.__name__})', 'error') from None


async def chat_completions(state: ServerState, request: Request, arrived: float) -> Response:
    body = _json_object(await _read_body(request, state.settings.max_request_bytes))
    messages = _messages(body)
    args = _generation_args(state, body)
    deadline = _deadline(state, body, arrived)

    def run(model: Any) -> Any:
        return _generate(model, model.chat_prompt(messages), args, deadline)

    result = await _run_job(state, run, deadline)
    return JSONResponse({
        'id': f'chatcmpl-{uuid.uuid4().hex}', 'object': 'chat.completion', 'created': int(time.time()),
        'model': state.settings.model_name,
        'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': result.text},
                     'finish_reason': _finish_reason(result.stop_reason)}],
        'usage': _usage(result), 'reviewbot': _extension(result)})


async def completions(state: ServerState, request: Request, arrived: float) -> Response:
    body = _json_object(await _read_body(request, state.settings.max_request_bytes))
    prompt = body.get('prompt')
    if not isinstance(prompt, str) or not prompt:
        raise ApiError(400, 'prompt must be a non-empty string', 'bad_request')
    args = _generation_args(state, body)
    deadline = _deadline(state, body, arrived)
    result = await _run_job(state, lambda model: _generate(model, prompt, args, deadline), deadline)
    return JSONResponse({
        'id': f'cmpl-{uuid.uuid4().hex}', 'object': 'text_completion', 'created': int(time.time()),
        'model': state.settings.model_name,
        'choices': [{'index': 0, 'text': result.text, 'finish_reason': _finish_reason(result.stop_reason)}],
        'usage': _usage(result), 'reviewbot': _extension(result)})


async def chat_prompt(state: ServerState, request: Request, arrived: float) -> Response:
    """The model's chat template applied to messages (RemoteModel.chat_prompt)."""
    body = _json_object(await _read_body(request, state.settings.max_request_bytes))
    messages = _messages(body)
    deadline = _deadline(state, body, arrived)
    prompt = await _run_job(state, lambda model: model.chat_prompt(messages), deadline)
    return JSONResponse({'prompt': prompt})


def _string(body: dict[str, Any], key: str, *, empty: bool = False) -> str:
    value = body.get(key)
    if not isinstance(value, str) or (not value and not empty):
        raise ApiError(400, f'{key} must be a {"" if empty else "non-empty "}string', 'bad_request')
    return value


async def next_token_logprobs(state: ServerState, request: Request, arrived: float) -> Response:
    """log P(first token of each candidate | prompt) (RemoteModel.next_token_logprobs)."""
    body = _json_object(await _read_body(request, state.settings.max_request_bytes))
    prompt = _string(body, 'prompt')
    candidates = body.get('candidates')
    if not isinstance(candidates, list) or not candidates or len(candidates) > 64 or \
            not all(isinstance(c, str) for c in candidates):
        raise ApiError(400, 'candidates must be a list of 1 to 64 strings', 'bad_request')
    deadline = _deadline(state, body, arrived)

    def run(model: Any) -> Any:
        _prompt_tokens(model, prompt)
        return model.next_token_logprobs(prompt, candidates)

    out = await _run_job(state, run, deadline)
    # JSON has no -inf: a candidate with no token gets null
    return JSONResponse({'logprobs': {k: (v if math.isfinite(v) else None) for k, v in out.items()}})


async def token_surprisals(state: ServerState, request: Request, arrived: float) -> Response:
    """Surprisal of each token of text after prefix (RemoteModel.token_surprisals)."""
    body = _json_object(await _read_body(request, state.settings.max_request_bytes))
    prefix = _string(body, 'prefix', empty=True)
    text = _string(body, 'text')
    deadline = _deadline(state, body, arrived)

    def run(model: Any) -> Any:
        _prompt_tokens(model, prefix + text)
        return model.token_surprisals(prefix, text)

    return JSONResponse({'surprisals': await _run_job(state, run, deadline)})


async def tokenizer(state: ServerState, request: Request, arrived: float) -> Response:
    text = await _run_job(state, lambda model: model.tokenizer.to_str(),
                          arrived + state.settings.request_timeout)
    return Response(text, media_type='application/json')


def review_job(diff: bytes, config: Config, stage: str, deadline: float) -> Callable[[Any], Any]:
    """The review of one diff as a job for the model thread. The configured reviewers get the server's
    own loaded model: a review never loads a second copy of the model."""
    def run(model: Any) -> dict[str, Any]:
        from reviewbot import pipeline
        from reviewbot.sources import DiffSource
        source = DiffSource(description='diff sent to the server', data=diff,
                            read_new_file=lambda path: None)
        left = max(0.001, deadline - time.monotonic())
        budget = min(config.budget, left) if config.budget else left
        return pipeline.review(source, config, stage=stage, budget=budget, model=model).to_dict()
    return run


async def review(state: ServerState, request: Request, arrived: float) -> Response:
    raw = await _read_body(request, state.settings.max_request_bytes)
    content_type = request.headers.get('content-type', '').split(';')[0].strip().lower()
    stage = 'cli'
    if content_type == 'application/json':
        body = _json_object(raw)
        diff = body.get('diff')
        if not isinstance(diff, str):
            raise ApiError(400, 'diff must be a string holding a unified diff', 'bad_request')
        stage = body.get('stage', 'cli')
        if stage not in STAGES:
            raise ApiError(400, f'stage must be one of {", ".join(STAGES)}', 'bad_request')
        try:
            data = diff.encode('utf-8', 'surrogateescape')
        except UnicodeEncodeError:  # a lone surrogate escape (\\ud800) in the JSON string
            raise ApiError(400, 'diff must be valid Unicode text', 'bad_request') from None
        deadline = _deadline(state, body, arrived)
    elif content_type in DIFF_TYPES:
        data = raw
        deadline = arrived + state.settings.request_timeout
    else:
        raise ApiError(415, 'send application/json {"diff": ...} or a text/x-diff body', 'bad_request')
    if not data.strip():
        raise ApiError(400, 'the diff is empty', 'bad_request')
    report = await _run_job(state, review_job(data, state.config, stage, deadline), deadline)
    return JSONResponse(report)


async def models(state: ServerState, request: Request, arrived: float) -> Response:
    model = state.worker.model
    return JSONResponse({'object': 'list', 'data': [{
        'id': state.settings.model_name, 'object': 'model', 'owned_by': 'reviewbot',
        'context_length': getattr(model, 'context_length', None),
        'precision': getattr(model, 'precision', None)}]})


async def healthz(state: ServerState, request: Request, arrived: float) -> Response:
    if state.draining or state.worker.closing:
        return JSONResponse({'status': 'draining'}, status_code=503, headers={'Retry-After': '5'})
    if state.worker.model is None:
        return JSONResponse({'status': 'model unavailable'}, status_code=503)
    return JSONResponse({'status': 'ok', 'model': state.settings.model_name})


async def metrics(state: ServerState, request: Request, arrived: float) -> Response:
    snap = state.metrics.snapshot(state.worker.depth, state.worker.capacity, state.worker.in_flight,
                                  state.settings.model_name, state.draining or state.worker.closing)
    if request.query_params.get('format') == 'json' or 'application/json' in request.headers.get('accept', ''):
        return JSONResponse(snap)
    return PlainTextResponse(prometheus_text(snap), media_type='text/plain; version=0.0.4')


def create_app(worker: ModelWorker, config: Config, settings: Settings, metrics_: Metrics) -> Starlette:
    routes = [
        Route('/healthz', _endpoint('healthz', healthz, model_request=False, auth=False)),
        Route('/metrics', _endpoint('metrics', metrics, model_request=False)),
        Route('/v1/models', _endpoint('models', models, model_request=False)),
        Route('/v1/chat/completions', _endpoint('chat', chat_completions), methods=['POST']),
        Route('/v1/completions', _endpoint('completions', completions), methods=['POST']),
        Route('/v1/review', _endpoint('review', review), methods=['POST']),
        Route('/v1/reviewbot/chat_prompt', _endpoint('chat_prompt', chat_prompt), methods=['POST']),
        Route('/v1/reviewbot/next_token_logprobs', _endpoint('logprobs', next_token_logprobs),
              methods=['POST']),
        Route('/v1/reviewbot/token_surprisals', _endpoint('surprisals', token_surprisals), methods=['POST']),
        Route('/v1/reviewbot/tokenizer', _endpoint('tokenizer', tokenizer)),
    ]
    app = Starlette(routes=routes)
    app.state.server = ServerState(worker, config, settings, metrics_)
    return app
