"""Baseline reviewers for the eval (never used by `reviewbot review`).

`naive-prompt` (NaivePromptReviewer): one plain prompt per diff file to the same local model the
model reviewer uses: the hunks with new-file line numbers, "reply with JSON lines for real defects only, or nothing". No
triage, no hunk splitting, no validation beyond the pipeline's own anchoring. It is the floor the
real model reviewer has to beat. `naive_review`: the same idea with one prompt for the whole diff,
given a loaded model (benchmarks/model_eval.py --naive).

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
from typing import TYPE_CHECKING, Any

from reviewbot.config import Config
from reviewbot.core import FileChange, Finding, LineKind, Severity, Skipped
from reviewbot.reviewers import ReviewContext, ReviewerResult

if TYPE_CHECKING:
    from reviewbot.engine.backend import Backend

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


# --- the single-prompt baseline of benchmarks/model_eval.py (--naive) ------------------------------
# One prompt for the whole diff to an engine.Backend (the model reviewer's own model), JSON lines
# back: what the model reviewer's units, triage and validation are measured against.

NAIVE_SYSTEM = 'You are a code reviewer.'
NAIVE_INSTRUCTIONS = ('Review this diff. The added lines are numbered with their line number in the '
                      'new file. Reply with JSON lines, one object per real defect: '
                      '{"path": ..., "line": ..., "message": ...}. Report real defects only; if '
                      'there are none, reply with nothing.')


def naive_prompt_text(files: list[FileChange]) -> str:
    parts = []
    for fc in files:
        parts.append(f'--- {fc.path}')
        for h in fc.hunks:
            for ln in h.lines:
                if ln.kind is LineKind.ADDED:
                    parts.append(f'{ln.new_lineno}: +{ln.text}')
                elif ln.kind is LineKind.REMOVED:
                    parts.append(f'   -{ln.text}')
                else:
                    parts.append(f'{ln.new_lineno}:  {ln.text}')
    return '\n'.join(parts)


def naive_review(files: list[FileChange], model: Backend, *, deadline: float | None = None,
                 max_new_tokens: int = 256) -> list[Finding]:
    """Baseline: one prompt for the whole diff, JSON lines back, no triage and no validation
    beyond what is needed to make a Finding (a line number and a message)."""
    messages = [{'role': 'system', 'content': NAIVE_SYSTEM},
                {'role': 'user', 'content': f'{NAIVE_INSTRUCTIONS}\n\n{naive_prompt_text(files)}'}]
    gen = model.generate(model.chat_prompt(messages), max_new_tokens=max_new_tokens,
                         temperature=0.0, seed=0, deadline=deadline)
    default_path = files[0].path if len(files) == 1 else ''
    out: list[Finding] = []
    for line in str(getattr(gen, 'text', '')).splitlines():
        line = line.strip().strip(',')
        if not line.startswith('{'):
            continue
        try:
            obj = json.loads(line)
            n = int(obj.get('line'))
            msg = str(obj.get('message') or '').strip()
        except (ValueError, TypeError, AttributeError):
            continue
        path = str(obj.get('path') or default_path)
        if msg:
            out.append(Finding(path=path, line=n, end_line=n, severity=Severity.WARNING,
                               category='model/naive', message=msg, reviewer='model-naive'))
    return out
