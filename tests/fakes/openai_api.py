"""A loopback server speaking OpenAI chat completions (and Anthropic messages) that records every
request. Answers come from a script of Responses, then from `answer(request) -> text`."""
from __future__ import annotations

from collections.abc import Callable

from tests.fakes.http import FakeServer, Request, Response


def chat_completion(text: str, prompt_tokens: int = 120, completion_tokens: int = 30) -> dict:
    return {
        'id': 'chatcmpl-fake', 'object': 'chat.completion', 'created': 0, 'model': 'fake-model',
        'choices': [{'index': 0, 'finish_reason': 'stop',
                     'message': {'role': 'assistant', 'content': text}}],
        'usage': {'prompt_tokens': prompt_tokens, 'completion_tokens': completion_tokens,
                  'total_tokens': prompt_tokens + completion_tokens},
    }


def anthropic_message(text: str, input_tokens: int = 120, output_tokens: int = 30) -> dict:
    return {
        'id': 'msg_fake', 'type': 'message', 'role': 'assistant', 'model': 'fake-model',
        'content': [{'type': 'text', 'text': text}], 'stop_reason': 'end_turn',
        'usage': {'input_tokens': input_tokens, 'output_tokens': output_tokens},
    }


class FakeOpenAI(FakeServer):
    """`base_url` is what goes into cloud.base_url (it includes /v1, as OpenAI's own does).
    `script` (from FakeServer) answers the next requests before `answer` does."""

    def __init__(self, answer: Callable[[Request], str] = lambda req: '',
                 script: list[Response] | None = None) -> None:
        super().__init__()
        self.answer = answer
        self.script = list(script or [])
        self.route('POST', r'/v1/chat/completions', self.chat_completions)
        self.route('POST', r'/v1/messages', self.messages)

    @property
    def base_url(self) -> str:
        return self.origin + '/v1'

    @property
    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.method == 'POST']

    def chat_completions(self, req: Request) -> Response:
        if not req.headers.get('authorization', '').startswith('Bearer '):
            return Response(401, {'error': {'message': 'missing key'}})
        return Response(200, chat_completion(self.answer(req)))

    def messages(self, req: Request) -> Response:
        if not req.headers.get('x-api-key'):
            return Response(401, {'type': 'error'})
        return Response(200, anthropic_message(self.answer(req)))

    def not_found(self, req: Request) -> Response:
        return Response(404, {'error': {'message': f'no route {req.method} {req.path}'}})
