"""The HTTP surface of `reviewbot serve` (Starlette).

Every model-using request becomes one job for the model thread (reviewbot.server.worker); the
event loop only authenticates, reads bounded bodies, validates, queues and answers. Request
bodies are never logged: errors name what was wrong, never the content.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hmac
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
from reviewbot.server import bodies
from reviewbot.server.bodies import ApiError, RequestInvalid
from reviewbot.server.metrics import Metrics, prometheus_text
from reviewbot.server.worker import DeadlineExpired, ModelWorker, QueueFull, Unavailable

log = logging.getLogger('reviewbot.server')

STAGES = ('cli', 'pre-commit', 'pre-push', 'ci')
DIFF_TYPES = ('text/x-diff', 'text/x-patch', 'text/plain')


@dataclasses.dataclass
class Settings:
    model_name: str
    token: str | None = None  # bearer token; None: no authentication (loopback only)
    max_request_bytes: int = default.SERVER_MAX_REQUEST_BYTES
    request_timeout: float = default.SERVER_REQUEST_TIMEOUT  # from arrival to answer, queue wait included
    max_tokens: int = default.SERVER_MAX_TOKENS  # most new tokens one request may ask for


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
        except Exception as e:  # a bug must still answer JSON, and log no traceback
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
    except Exception as e:  # never echo the request; the type is enough to find it in the code
        log.error('job failed: %s', e.__class__.__name__)
        raise ApiError(500, f'internal error ({e.__class__.__name__})', 'error') from None


async def chat_completions(state: ServerState, request: Request, arrived: float) -> Response:
    body = bodies.json_object(await bodies.read_body(request, state.settings.max_request_bytes))
    messages = bodies.messages(body)
    args = bodies.generation_args(state.settings, body)
    deadline = bodies.deadline(state.settings, body, arrived)

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
    body = bodies.json_object(await bodies.read_body(request, state.settings.max_request_bytes))
    prompt = body.get('prompt')
    if not isinstance(prompt, str) or not prompt:
        raise ApiError(400, 'prompt must be a non-empty string', 'bad_request')
    args = bodies.generation_args(state.settings, body)
    deadline = bodies.deadline(state.settings, body, arrived)
    result = await _run_job(state, lambda model: _generate(model, prompt, args, deadline), deadline)
    return JSONResponse({
        'id': f'cmpl-{uuid.uuid4().hex}', 'object': 'text_completion', 'created': int(time.time()),
        'model': state.settings.model_name,
        'choices': [{'index': 0, 'text': result.text, 'finish_reason': _finish_reason(result.stop_reason)}],
        'usage': _usage(result), 'reviewbot': _extension(result)})


async def chat_prompt(state: ServerState, request: Request, arrived: float) -> Response:
    """The model's chat template applied to messages (RemoteModel.chat_prompt)."""
    body = bodies.json_object(await bodies.read_body(request, state.settings.max_request_bytes))
    messages = bodies.messages(body)
    deadline = bodies.deadline(state.settings, body, arrived)
    prompt = await _run_job(state, lambda model: model.chat_prompt(messages), deadline)
    return JSONResponse({'prompt': prompt})


async def next_token_logprobs(state: ServerState, request: Request, arrived: float) -> Response:
    """log P(first token of each candidate | prompt) (RemoteModel.next_token_logprobs)."""
    body = bodies.json_object(await bodies.read_body(request, state.settings.max_request_bytes))
    prompt = bodies.string(body, 'prompt')
    candidates = body.get('candidates')
    if not isinstance(candidates, list) or not candidates or len(candidates) > 64 or \
            not all(isinstance(c, str) for c in candidates):
        raise ApiError(400, 'candidates must be a list of 1 to 64 strings', 'bad_request')
    deadline = bodies.deadline(state.settings, body, arrived)

    def run(model: Any) -> Any:
        _prompt_tokens(model, prompt)
        return model.next_token_logprobs(prompt, candidates)

    out = await _run_job(state, run, deadline)
    # JSON has no -inf: a candidate with no token gets null
    return JSONResponse({'logprobs': {k: (v if math.isfinite(v) else None) for k, v in out.items()}})


async def token_surprisals(state: ServerState, request: Request, arrived: float) -> Response:
    """Surprisal of each token of text after prefix (RemoteModel.token_surprisals)."""
    body = bodies.json_object(await bodies.read_body(request, state.settings.max_request_bytes))
    prefix = bodies.string(body, 'prefix', empty=True)
    text = bodies.string(body, 'text')
    deadline = bodies.deadline(state.settings, body, arrived)

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
    raw = await bodies.read_body(request, state.settings.max_request_bytes)
    content_type = request.headers.get('content-type', '').split(';')[0].strip().lower()
    stage = 'cli'
    if content_type == 'application/json':
        body = bodies.json_object(raw)
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
        deadline = bodies.deadline(state.settings, body, arrived)
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
