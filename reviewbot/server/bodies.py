"""Request bodies of the server's HTTP API, read and checked: bounded in size and JSON nesting, and the
OpenAI-compatible fields (messages, sampling). Every problem is an ApiError: a 4xx answer naming what
was wrong, never quoting the content."""
from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

ROLES = ('system', 'user', 'assistant')


class ApiError(Exception):
    """An answer other than 200: its HTTP status, the one-line message the client sees, the label it is
    counted under in the rejected-requests metric, and any headers (Retry-After, WWW-Authenticate)."""

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


async def read_body(request: Request, limit: int) -> bytes:
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


def json_object(body: bytes) -> dict[str, Any]:
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


def deadline(settings: Any, body: dict[str, Any], arrived: float) -> float:
    """When the answer is due: the server's request timeout, or the sooner `timeout` the client asks."""
    seconds = settings.request_timeout
    asked = body.get('timeout')  # extension: a client with its own budget asks for less
    if asked is not None:
        if isinstance(asked, bool) or not isinstance(asked, (int, float)) or asked <= 0:
            raise ApiError(400, 'timeout must be a positive number of seconds', 'bad_request')
        seconds = min(seconds, float(asked))
    return arrived + seconds


def generation_args(settings: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI sampling fields, checked, as the engine's generate() arguments."""
    max_tokens = body.get('max_tokens', body.get('max_completion_tokens', 128))
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ApiError(400, 'max_tokens must be a positive integer', 'bad_request')
    if max_tokens > settings.max_tokens:
        raise ApiError(400, f'max_tokens must be <= {settings.max_tokens}', 'bad_request')
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


def messages(body: dict[str, Any]) -> list[dict[str, str]]:
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


def string(body: dict[str, Any], key: str, *, empty: bool = False) -> str:
    value = body.get(key)
    if not isinstance(value, str) or (not value and not empty):
        raise ApiError(400, f'{key} must be a {"" if empty else "non-empty "}string', 'bad_request')
    return value
