"""The local model as the last fixer: for an analyzer finding no deterministic fixer could fix, it
proposes one replacement line, which the verifier then checks like any other fix.

The 0.5B model asked plainly echoes the line or writes prose, so it gets real help: the rule's own
guidance and one worked example of its family in the prompt, the enclosing function as context,
and a constrained answer. The reply is started for it inside a code fence, at the flagged line's
indentation and with the line's unchanged assignment target (`data = `), and cut at the end of the
line: all the model writes is the new right-hand side of the flagged line. The answer is parsed
strictly (one line of code, different from the old one, no fence, no prose) and verified; one retry
gets the verifier's reason. Greedy decoding, short, the review's engine and result cache, and
only while the review's time budget allows.
"""
from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from reviewbot.core import Finding, Fix
from reviewbot.fixes.text import bare, fix_from_texts, split_lines

if TYPE_CHECKING:
    from reviewbot.engine.backend import Backend

MAX_NEW_TOKENS = 64
CONTEXT_LINES = 12  # lines of the enclosing function shown on each side of the flagged line
# reviewers whose findings the model may fix: the analyzers (its own findings are not checkable)
ANALYZERS = ('ruff', 'patterns', 'secrets')
_TARGET = re.compile(r'^(\s*(?:return\s+|(?:[\w.]+(?:\[[^\]]*\])?\s*(?:,\s*[\w.]+\s*)*=(?!=)\s*)))')

# rule family -> (how to fix, a flagged line, its fix); the key is matched against the category
EXAMPLES: list[tuple[str, str, str, str]] = [
    (r'S608|sql', 'Pass values as query parameters, never format them into the SQL text.',
     'cur.execute(f"SELECT * FROM users WHERE name = \'{name}\'")',
     'cur.execute("SELECT * FROM users WHERE name = ?", (name,))'),
    (r'S602|S605|S604|command|shell', 'Run the program with an argument list and no shell.',
     'subprocess.run(f"ping -c 1 {host}", shell=True)',
     'subprocess.run(["ping", "-c", "1", host])'),
    (r'S324|fast-hash|weak-hash', 'Use a strong hash (hashlib.sha256), or a password hash for passwords.',
     'digest = hashlib.md5(data).hexdigest()', 'digest = hashlib.sha256(data).hexdigest()'),
    (r'S307|code-injection|eval', 'Parse literals with ast.literal_eval instead of eval.',
     'value = eval(text)', 'value = ast.literal_eval(text)'),
    (r'S301|S302|deserial', 'Load data with json, not pickle/marshal.',
     'obj = pickle.loads(payload)', 'obj = json.loads(payload)'),
    (r'path-traversal', 'Keep only the file name of user input (os.path.basename) before joining.',
     'path = os.path.join(UPLOADS, name)', 'path = os.path.join(UPLOADS, os.path.basename(name))'),
    (r'xss|reflected', 'Escape user text before putting it into HTML (markupsafe.escape).',
     'return f"<p>Hello {name}</p>"', 'return f"<p>Hello {escape(name)}</p>"'),
    (r'redirect', 'Redirect only to a relative path of this site.',
     'return redirect(request.args["next"])', 'return redirect(url_for("index"))'),
    (r'random', 'Use the secrets module for anything secret.',
     'token = random.randint(0, 999999)', 'token = secrets.randbelow(1000000)'),
    (r'S305|S304|cipher|ecb', 'Use an authenticated mode (GCM) with a random nonce.',
     'cipher = Cipher(algorithms.AES(key), modes.ECB())',
     'cipher = Cipher(algorithms.AES(key), modes.GCM(os.urandom(12)))'),
    (r'', 'Change the flagged line so the problem is gone and the code still does its job.',
     'if user.name is "admin":', 'if user.name == "admin":'),
]


def example_for(category: str) -> tuple[str, str, str]:
    for pattern, guide, before, after in EXAMPLES:
        if re.search(pattern, category, re.IGNORECASE):
            return guide, before, after
    return EXAMPLES[-1][1:]


def _enclosing(lines: list[str], line: int) -> tuple[int, int]:
    """Lines (1-based, inclusive) of the function around `line`, at most CONTEXT_LINES each side."""
    start = line
    while start > 1 and line - start < CONTEXT_LINES:
        start -= 1
        if re.match(r'\s*(async\s+)?def |\s*class ', lines[start - 1]):
            break
    end = min(len(lines), line + CONTEXT_LINES)
    return start, end


def messages(f: Finding, text: str, retry_reason: str | None = None) -> list[dict[str, str]]:
    lines = [bare(ln) for ln in split_lines(text)]
    assert f.line is not None
    guide, before, after = example_for(f.category)
    start, end = _enclosing(lines, f.line)
    code = '\n'.join(lines[start - 1:end])
    user = (f'```python\n{code}\n```\n\nThe line `{lines[f.line - 1].strip()}` has a problem: '
            f'{f.message}\nHow to fix: {guide}\n'
            f'For example, `{before}` becomes `{after}`.\n'
            'Write the fixed line.')
    if retry_reason:
        user += f' A previous answer was rejected ({retry_reason}): write a real fix.'
    return [{'role': 'system', 'content': 'You fix one line of Python code. Reply with code only.'},
            {'role': 'user', 'content': user}]


def answer_prefix(line: str) -> str:
    """What the reply is started with: the line's indentation and its unchanged target."""
    m = _TARGET.match(line)
    # no trailing space: a prompt that ends in one makes a small model write a constant
    return m.group(1).rstrip() if m else line[:len(line) - len(line.lstrip())]


def parse_answer(prefix: str, generated: str, old_line: str) -> str | None:
    """The new line, or None when the answer is not one line of code different from the old."""
    body = generated.split('\n', 1)[0].rstrip().lstrip()
    if prefix.strip() and body.startswith(prefix.strip()):  # the target written again
        body = body[len(prefix.strip()):].lstrip()
    if not body or '```' in body or body.startswith(('#', '//')):
        return None
    new = prefix + body if not prefix.strip() else f'{prefix} {body}'
    if ' '.join(new.split()) == ' '.join(old_line.split()):
        return None
    if re.search(r'\b(the|this|should|instead|because)\b', body) and not re.search(r'[()=\[\]]', body):
        return None  # prose
    return new


# standard modules a fix may start using (the fix then imports them on the line before)
IMPORTABLE = ('ast', 'json', 'secrets', 'shlex', 'html', 'hmac', 'hashlib', 'os', 'subprocess')


def with_imports(new: str, text: str) -> str:
    """`new` preceded by `import m` (at its indentation) for each module it starts to use."""
    indent = new[:len(new) - len(new.lstrip())]
    adds = [m for m in IMPORTABLE if re.search(rf'(?<![\w.]){m}\.', new)
            and not re.search(rf'^\s*(import\s+[\w, ]*\b{m}\b|from\s+\S+\s+import\s+[\w, ]*\b{m}\b)',
                              text, re.MULTILINE)]
    return ''.join(f'{indent}import {m}\n' for m in adds) + new


class ModelFixer:
    """Uses the model reviewer's engine.Backend and result cache (the model loaded lazily, once)."""

    def __init__(self, reviewer: Any) -> None:
        self.reviewer = reviewer
        self.calls = 0
        self.seconds: list[float] = []

    def can_fix(self, f: Finding) -> bool:
        return (f.reviewer in ANALYZERS and f.line is not None and f.path.endswith(('.py', '.pyi'))
                and (f.end_line or f.line) == f.line)

    def propose(self, f: Finding, text: str, deadline: float | None,
                retry_reason: str | None = None) -> Fix | None:
        from reviewbot.reviewers.model.cache import cache_key
        lines = split_lines(text)
        if f.line is None or not 1 <= f.line <= len(lines):
            return None
        old = bare(lines[f.line - 1])
        prefix = answer_prefix(old)
        model: Backend = self.reviewer.model
        prompt = model.chat_prompt(messages(f, text, retry_reason)) + '```python\n' + prefix
        key = cache_key('fix', self.reviewer.model_identity(), prompt)
        hit = self.reviewer.cache.get(key)
        if hit is not None and isinstance(hit.get('text'), str):
            generated = hit['text']
        else:
            t0 = time.perf_counter()
            gen = model.generate(prompt, max_new_tokens=MAX_NEW_TOKENS, stop=('\n', '```'),
                                 temperature=0.0, seed=0, deadline=deadline)
            self.seconds.append(time.perf_counter() - t0)
            self.calls += 1
            if getattr(gen, 'stop_reason', '') == 'deadline':
                return None
            generated = gen.text if isinstance(getattr(gen, 'text', None), str) else ''
            self.reviewer.cache.put(key, {'text': generated})
        new = parse_answer(prefix, generated, old)
        if new is None:
            raise ValueError('not-the-format')
        eol = lines[f.line - 1][len(old):]
        new = with_imports(new, text)
        new_text = ''.join(lines[:f.line - 1]) + new + eol + ''.join(lines[f.line:])
        return fix_from_texts(text, new_text, source='model', safety='unsafe',
                              description=f'proposed by the local model ({f.category})',
                              cover=(f.line, f.line))
