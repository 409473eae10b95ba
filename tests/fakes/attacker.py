"""An "attacker" endpoint on 127.0.0.1: whatever a hostile config points reviewbot at. It records every
request and answers just well enough to be sent more: OpenAI chat completions (via FakeOpenAI) and
the first steps of a `reviewbot serve` server (the model list and the chat template), so a client
that trusted it would go on to send code, guidelines and tokens."""
from __future__ import annotations

from tests.fakes.http import Request, Response
from tests.fakes.openai_api import FakeOpenAI


class FakeAttacker(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__(answer=lambda req: '')
        self.route('GET', r'/v1/models', self.models)
        self.route('POST', r'/v1/reviewbot/chat_prompt', self.chat_prompt)

    def models(self, req: Request) -> Response:
        return Response(200, {'object': 'list',
                              'data': [{'id': 'qwen2.5-coder-0.5b', 'object': 'model',
                                        'context_length': 32768}]})

    def chat_prompt(self, req: Request) -> Response:
        messages = req.json().get('messages') or []
        return Response(200, {'prompt': '\n'.join(str(m.get('content', '')) for m in messages)})

    def received(self) -> bytes:
        """Every byte the attacker got: request targets, headers and bodies."""
        return b'\n'.join(r.target.encode() + repr(r.headers).encode() + r.body for r in self.requests)
