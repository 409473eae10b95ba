"""Baseline reviewers for the eval (never used by `reviewbot review`).

`naive-prompt`: one plain prompt per diff file to the same local model the model reviewer uses: the
hunks with new-file line numbers, "reply with JSON lines for real defects only, or nothing". No
triage, no hunk splitting, no validation beyond the pipeline's own anchoring. It is the floor the
real model reviewer has to beat.

Backends (EVAL_BACKEND):
  engine        (default) the project's own onnxruntime runtime,
                so the baseline runs on exactly what the model reviewer runs. EVAL_MODEL names the
                model (default qwen2.5-coder-0.5b; smollm2-135m is the tiny test model),
                EVAL_PRECISION its exported precision (default: the registry's).
  llama         llama-cpp-python on the same GGUF weights (fast; eval-only, when installed).
                EVAL_MODEL_GGUF selects the file.
  transformers  reads the GGUF file directly (eval-only; torch/transformers are never on the review
                path, and eager decoding is slow). EVAL_MODEL_GGUF selects the file.
EVAL_THREADS: CPU threads (default 2).
"""
from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

from reviewbot.config import Config
from reviewbot.core import FileChange, Finding, LineKind, Severity, Skipped
from reviewbot.reviewers import ReviewContext, ReviewerResult

DEFAULT_GGUF = Path.home() / '.cache/reviewbot/models/qwen2.5-coder-0.5b/gguf/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf'
MAX_NEW_TOKENS = 128
MAX_PROMPT_LINES = 160  # a diff file longer than this is cut (the naive baseline does not split)
STOP_IDS = (151645, 151643)  # Qwen <|im_end|>, <|endoftext|> (the GGUF's eos is wrong, see notes)

SYSTEM = 'You are an expert code reviewer.'
INSTRUCTION = (
    'Review the following change to {path}. Lines are numbered with their line number in the new '
    'file; "+" marks added lines, "-" removed lines. Report only real defects (bugs or security '
    'vulnerabilities) in the added lines, one JSON object per line: '
    '{{"line": <number>, "message": "<what is wrong>"}}. If there are none, reply with nothing.'
)
_JSON_OBJ = re.compile(r'\{[^{}]*\}')


def numbered_diff(f: FileChange, max_lines: int = MAX_PROMPT_LINES) -> str:
    out: list[str] = []
    for h in f.hunks:
        out.append(f'@@ {h.section}'.rstrip())
        for ln in h.lines:
            if ln.kind is LineKind.ADDED:
                out.append(f'{ln.new_lineno:>5} + {ln.text}')
            elif ln.kind is LineKind.REMOVED:
                out.append(f'      - {ln.text}')
            else:
                out.append(f'{ln.new_lineno:>5}   {ln.text}')
    return '\n'.join(out[:max_lines])


def parse_answer(text: str) -> list[dict[str, Any]]:
    """JSON objects with an integer line from the model's answer; anything else is ignored."""
    found = []
    for m in _JSON_OBJ.finditer(text):
        try:
            obj = json.loads(m.group(0))
        except ValueError:
            continue
        line = obj.get('line') if isinstance(obj, dict) else None
        if isinstance(line, int) and not isinstance(line, bool):
            found.append({'line': line, 'message': str(obj.get('message', ''))[:300]})
    return found


@functools.cache
def _load(gguf: str, threads: int) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(threads)
    folder, name = os.path.split(gguf)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.eval()
    return tok, model


@functools.cache
def _engine_model(name: str, precision: str | None, threads: int) -> Any:
    from reviewbot.engine.runtime import load_model
    return load_model(name, threads=threads, precision=precision or None)


def engine_generate(prompt_user: str, name: str, precision: str | None, threads: int) -> str:
    model = _engine_model(name, precision, threads)
    msgs = [{'role': 'system', 'content': SYSTEM}, {'role': 'user', 'content': prompt_user}]
    return model.generate(model.chat_prompt(msgs), max_new_tokens=MAX_NEW_TOKENS).text


@functools.cache
def _llama(gguf: str, threads: int) -> Any:
    from llama_cpp import Llama
    return Llama(model_path=gguf, n_ctx=4096, n_threads=threads, verbose=False, seed=0)


def llama_generate(prompt_user: str, gguf: str, threads: int) -> str:
    llm = _llama(gguf, threads)
    msgs = [{'role': 'system', 'content': SYSTEM}, {'role': 'user', 'content': prompt_user}]
    out = llm.create_chat_completion(messages=msgs, max_tokens=MAX_NEW_TOKENS, temperature=0.0,
                                     stop=['<|im_end|>', '<|endoftext|>'])
    return out['choices'][0]['message']['content'] or ''


def engine_available() -> bool:
    try:
        import reviewbot.engine.runtime  # noqa: F401
    except ImportError:
        return False
    return True


def generate(prompt_user: str, gguf: str, threads: int) -> str:
    import torch
    tok, model = _load(gguf, threads)
    msgs = [{'role': 'system', 'content': SYSTEM}, {'role': 'user', 'content': prompt_user}]
    ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors='pt')
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=MAX_NEW_TOKENS,
                             do_sample=False, eos_token_id=list(STOP_IDS), pad_token_id=STOP_IDS[1])
    return tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


class NaivePromptReviewer:
    name = 'naive-prompt'

    def __init__(self, config: Config | None = None):
        self.backend = os.environ.get('EVAL_BACKEND') or 'engine'
        self.model = os.environ.get('EVAL_MODEL', 'qwen2.5-coder-0.5b')
        self.precision = os.environ.get('EVAL_PRECISION') or None
        self.gguf = os.environ.get('EVAL_MODEL_GGUF', str(DEFAULT_GGUF))
        self.threads = int(os.environ.get('EVAL_THREADS', '2'))
        self.answers: list[str] = []  # raw model output, kept for inspection

    def describe(self) -> str:
        if self.backend == 'engine':
            return f'engine {self.model} {self.precision or "default precision"}'
        return f'{self.backend} {os.path.basename(self.gguf)}'

    def _generate(self, prompt: str) -> str:
        if self.backend == 'engine':
            return engine_generate(prompt, self.model, self.precision, self.threads)
        if self.backend == 'llama':
            return llama_generate(prompt, self.gguf, self.threads)
        return generate(prompt, self.gguf, self.threads)

    def review(self, files: list[FileChange], ctx: ReviewContext) -> ReviewerResult:
        result = ReviewerResult()
        if self.backend == 'engine' and not engine_available():
            for f in files:
                result.skipped.append(Skipped(
                    f.path, 'reviewbot.engine is not installed (or set EVAL_BACKEND=llama or '
                    'transformers to run the GGUF another way)', reviewer=self.name, lines=f.added_count))
            return result
        if self.backend != 'engine' and not os.path.isfile(self.gguf):
            for f in files:
                result.skipped.append(Skipped(f.path, f'model file not found: {self.gguf}',
                                              reviewer=self.name, lines=f.added_count))
            return result
        for f in files:
            if not f.added_count:
                continue
            prompt = INSTRUCTION.format(path=f.path) + '\n\n' + numbered_diff(f)
            answer = self._generate(prompt)
            self.answers.append(answer)
            for item in parse_answer(answer):
                result.findings.append(Finding(
                    path=f.path, line=item['line'], end_line=item['line'], severity=Severity.WARNING,
                    category='baseline/naive-prompt', message=item['message'] or 'defect',
                    reviewer=self.name))
        return result
