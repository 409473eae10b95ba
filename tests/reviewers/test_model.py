"""The model reviewer: units and prompts, the strict parser and validation, the result cache, the
budget, and real reviews with the tiny model (smollm2-135m) and the default model through onnxruntime."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewbot.config import defaults
from reviewbot.core import LineKind
from reviewbot.diffparse import parse_diff
from reviewbot.errors import ModelError
from reviewbot.reviewers import ReviewContext
from reviewbot.reviewers import model as mr
from reviewbot.reviewers.model import triage
from reviewbot.reviewers.model.pace import GENERATION_MARGIN_SECONDS
from tests.reviewers.full_vocabulary import FullVocabularyScoring

TINY = 'smollm2-135m'
DEFAULT = 'qwen2.5-coder-0.5b'

OLD_APP = '''import sqlite3


def connect(path):
    return sqlite3.connect(path)


def count_users(db):
    return db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
'''
NEW_APP = '''import sqlite3


def connect(path):
    return sqlite3.connect(path)


def count_users(db):
    return db.execute("SELECT COUNT(*) FROM users").fetchone()[0]


def find_user(db, name):
    query = "SELECT id, email FROM users WHERE name = '" + name + "'"
    return db.execute(query).fetchall()
'''


def make_diff(path: str, old: str, new: str) -> bytes:
    import difflib
    body = ''.join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                        f'a/{path}', f'b/{path}', n=3))
    return f'diff --git a/{path} b/{path}\n{body}'.encode()


def files_and_ctx(path: str, old: str, new: str, config=None, deadline=None):
    diff = parse_diff(make_diff(path, old, new))
    ctx = ReviewContext(config=config or defaults(), read_new_file=lambda p: new if p == path else None,
                        deadline=deadline)
    return diff.files, ctx


def many_hunks_source(n: int) -> tuple[str, str]:
    """Old and new text of a file where n far-apart functions each gain a line."""
    old_parts, new_parts = [], []
    for i in range(n):
        body = [f'def f{i}(x):', f'    y = x + {i}'] + [f'    # filler {i}.{k}' for k in range(12)]
        old_parts.append('\n'.join(body + ['    return y']))
        new_parts.append('\n'.join(body + [f'    y = y * {i + 2}', '    return y']))
    return '\n\n\n'.join(old_parts) + '\n', '\n\n\n'.join(new_parts) + '\n'


def added_lines(files) -> set[tuple[str, int]]:
    return {(f.path, ln.new_lineno) for f in files for h in f.hunks for ln in h.lines
            if ln.kind is LineKind.ADDED}


# --- units and prompt ------------------------------------------------------------------------------

def test_view_numbers_new_file_lines_and_marks_added_ones():
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP)
    units, skipped = mr.ModelReviewer(defaults()).units(files, ctx)
    assert not skipped and len(units) == 1
    u = units[0]
    assert u.lang == 'Python'
    lines = NEW_APP.split('\n')
    width = len(u.view.splitlines()[-1].split(' ', 1)[0])  # 'L<n>' padded to the widest label
    for row in u.view.splitlines():
        num, mark, code = int(row[1:width].strip()), row[width + 1], row[width + 3:]
        assert lines[num - 1].rstrip() == code.rstrip()
        assert (mark == '+') == (num in u.added)
        assert bool(triage._ADDED_ROW.match(row)) == (num in u.added)
    assert set(u.added) == {10, 11, 12, 13, 14}
    prompt = mr.review_messages(u)[-1]['content']
    assert 'File: app/db.py (Python)' in prompt and u.view in prompt


def test_far_apart_hunks_are_separate_units_and_non_code_is_skipped_with_reason():
    old, new = many_hunks_source(3)
    files, ctx = files_and_ctx('pkg/calc.go', old, new)
    units, _ = mr.ModelReviewer(defaults()).units(files, ctx)
    assert len(units) == 3 and all(u.lang == 'Go' for u in units)
    docs, dctx = files_and_ctx('README.md', 'a\n', 'a\nb\n')
    units, skipped = mr.ModelReviewer(defaults()).units(docs, dctx)
    assert units == [] and skipped[0].path == 'README.md' and 'not a source file' in skipped[0].reason


def test_big_new_file_is_split_into_windows_that_cover_every_added_line():
    new = ''.join(f'x{i} = {i}\n' for i in range(130))
    files, ctx = files_and_ctx('big.py', '', new)
    units, _ = mr.ModelReviewer(defaults()).units(files, ctx)
    assert len(units) >= 3
    assert all(len(u.added) <= mr.MAX_UNIT_LINES for u in units)
    covered = sorted(n for u in units for n in u.added)
    assert covered == list(range(1, 131))


def test_guidelines_reach_the_prompt(tmp_path):
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'docs' / 'REVIEW.md').write_text('Never log request bodies.\n')
    config = defaults().override(guidelines='docs/REVIEW.md')
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP, config)
    ctx.repo_root = tmp_path
    reviewer = mr.ModelReviewer(config)
    text = reviewer.guidelines(ctx)
    units, _ = reviewer.units(files, ctx)
    assert 'Never log request bodies.' in mr.review_messages(units[0], text)[0]['content']


# --- parser and validation -------------------------------------------------------------------------

def _unit():
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP)
    units, _ = mr.ModelReviewer(defaults()).units(files, ctx)
    return units[0]


def test_parser_reads_the_finding_format_and_stops_at_none():
    text = ('L13: security: query is built by concatenating the user name\n'
            '- L14 - bug: fetchall returns every row of the result at once\n'
            'NONE\nL12: bug: after NONE nothing counts')
    raws = mr.parse_output(text)
    assert [(r.line, r.category) for r in raws] == [(13, 'security'), (14, 'bug')]
    assert mr.parse_output('NONE') == []


@pytest.mark.parametrize('garbage', [
    '', 'NONE', '\x00\x01\x02', 'L', 'L:', 'L99999999999999999999: bug: huge', 'L12', 'L12: bug',
    'L12: : empty category', '{"line": 12, "message": "json is not the format"}', '```python\nx\n```',
    'L-3: bug: negative', 'L12-L5: bug: backwards range is clamped', 'Line 12 has an issue.',
    'L12: bug: ' + 'x' * 10000, '\n' * 500, 'L12: security: \u202e\u0000 weird', None, 12, b'L12: bug: x',
])
def test_malformed_output_never_crashes(garbage):
    u = _unit()
    raws = mr.parse_output(garbage)
    checked = mr.validate(raws, u)
    assert all(f.line in u.added for f in checked.findings)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_parses_and_validates_to_added_lines_only(text):
    u = _unit()
    for f in mr.validate(mr.parse_output(text), u).findings:
        assert f.line in u.added and f.end_line in u.added and f.category in ('model/bug', 'model/security')


def test_validation_keeps_real_findings_and_drops_the_rest():
    u = _unit()
    text = '\n'.join([
        'L13: security: SQL injection: the user name is pasted into the query string',
        'L13: security: SQL injection again on the same line, worded differently',
        'L9: bug: count_users returns the wrong count when the table is empty',  # context line
        'L40: bug: this line does not exist in the file at all',
        'L14: style: variable names could be more descriptive',
        'L14: bug: consider adding a docstring to explain the function',
        'L12: bug: looks good to me',
        'L14: bug: return db.execute(query).fetchall()',  # the code said again
        'L12: bug: an empty list divides by zero',  # the prompt's own example echoed
        'L12: bug: Python 2.7.0_RELEASE_NAVIGOR_1000000000000000000000',  # noise, not a sentence
    ])
    checked = mr.validate(mr.parse_output(text), u)
    assert [(f.line, f.category) for f in checked.findings] == [(13, 'model/security')]
    f = checked.findings[0]
    assert f.severity.value == 'error' and f.reviewer == 'model' and f.path == 'app/db.py'
    assert checked.dropped == {'duplicate': 1, 'not an added line': 2, 'unknown category': 1,
                               'boilerplate': 5}


def test_risk_signals_are_in_0_1_and_the_least_natural_line_is_picked():
    scan = mr.Scan(0.8, {12: 0.4, 13: 2.5, 14: 1.0})
    for signal in ('answer', 'surprisal', 'both'):
        assert 0.0 <= mr.unit_risk(scan, signal) <= 1.0
    assert mr.unit_risk(scan, 'answer') == 0.8
    assert mr.pick_line(scan) == 13
    empty = mr.Scan(0.0, {})
    assert mr.pick_line(empty) is None and mr.unit_risk(empty, 'both') == 0.0


def test_cache_survives_garbage_entries(tmp_path):
    cache = mr.ResultCache(tmp_path)
    key = mr.cache_key('a', 'b')
    assert cache.get(key) is None
    cache.put(key, {'score': 0.5})
    assert cache.get(key) == {'score': 0.5}
    (tmp_path / key[:2] / f'{key}.json').write_text('{not json')
    assert cache.get(key) is None


# --- with the real models ---------------------------------------------------------------------------

def _load(name: str):
    from reviewbot.engine import load_model
    try:
        return load_model(name)
    except ModelError as e:
        pytest.skip(f'{name} not exported here: {e}')


@pytest.fixture(scope='module')
def tiny():
    return _load(TINY)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / 'results-cache'
    monkeypatch.setenv(mr.ENV_CACHE_DIR, str(d))
    return d


def test_tiny_model_findings_are_anchored_to_added_lines(tiny, cache_dir):
    config = defaults().override(model=TINY, triage_threshold=0.0, model_findings='on')  # generate for every unit
    old, new = many_hunks_source(3)
    files, ctx = files_and_ctx('pkg/calc.py', old, new, config)
    files2, ctx2 = files_and_ctx('app/db.py', OLD_APP, NEW_APP, config)
    reviewer = mr.ModelReviewer(config, model=tiny)
    reviewer.max_new_tokens = 24  # the tiny model writes prose: short answers keep the test fast
    result = reviewer.review(files + files2, ctx)
    allowed = added_lines(files + files2)
    assert result.stats['generated'] == result.stats['units'] == 4
    for f in result.findings:
        assert (f.path, f.line) in allowed and (f.path, f.end_line) in allowed
    assert not result.skipped


def test_tiny_budget_skips_with_budget_reasons_and_accounts_for_every_unit(tiny, cache_dir):
    config = defaults().override(model=TINY, triage_threshold=0.0, model_findings='on')
    old, new = many_hunks_source(8)
    files, ctx = files_and_ctx('pkg/calc.py', old, new, config, deadline=time.monotonic() + 0.05)
    reviewer = mr.ModelReviewer(config, model=tiny)
    reviewer.max_new_tokens = 24  # the tiny model writes prose: short answers keep the test fast
    result = reviewer.review(files, ctx)
    budget = [s for s in result.skipped if s.reason.startswith('budget:')]
    assert budget, result.skipped
    assert all(s.reviewer == 'model' and s.hunk is not None for s in result.skipped)
    # every unit is accounted for: generated, or skipped with a reason
    assert result.stats['generated'] + len(result.skipped) >= result.stats['units'] == 8
    assert result.stats['model_calls'] <= 2  # it stopped calling the model when time ran out


def test_deadline_already_passed_calls_no_model(cache_dir):
    config = defaults().override(model=TINY, model_findings="info")  # triage runs
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP, config, deadline=time.monotonic() - 1)
    reviewer = mr.ModelReviewer(config)
    result = reviewer.review(files, ctx)
    assert [s.reason for s in result.skipped] == ['budget: not reached']
    assert result.stats['model_calls'] == 0 and reviewer._model is None


def test_budget_smaller_than_one_model_call_starts_none(cache_dir):
    # A model call cannot be interrupted: one that cannot finish in time is never started, and
    # the model is not even loaded.
    config = defaults().override(model=TINY, model_findings="info")  # triage runs
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP, config, deadline=time.monotonic() + 0.5)
    reviewer = mr.ModelReviewer(config)
    result = reviewer.review(files, ctx)
    assert [s.reason for s in result.skipped] == ['budget: not reached']
    assert result.stats['model_calls'] == 0 and reviewer._model is None


def test_rerun_hits_the_cache_and_does_no_inference(tiny, cache_dir):
    config = defaults().override(model=TINY, triage_threshold=0.0, model_findings='on')
    old, new = many_hunks_source(2)
    files, ctx = files_and_ctx('pkg/calc.py', old, new, config)
    reviewer = mr.ModelReviewer(config, model=tiny)
    reviewer.max_new_tokens = 24
    first = reviewer.review(files, ctx)
    # 2 triage (the answer only) + 2 line scans (for where generation starts) + 2 reviews
    assert first.stats['model_calls'] == 6 and first.stats['cache_hits'] == 0
    again = mr.ModelReviewer(config)  # a new process would start like this: no model loaded
    second = again.review(files, ctx)
    assert second.stats['model_calls'] == 0 and second.stats['cache_hits'] == 4
    assert again._model is None
    assert [{**f.to_dict(), 'cached': None} for f in second.findings] == \
        [{**f.to_dict(), 'cached': None} for f in first.findings]
    # a finding answered from the result cache says so (nothing was asked of a model for it)
    assert not any(f.to_dict()['cached'] for f in first.findings)
    assert all(f.to_dict()['cached'] is True for f in second.findings)
    assert any('answered from the result cache' in n for n in second.notes) == bool(second.findings)
    # a changed hunk is a miss, the unchanged one still a hit
    files3, ctx3 = files_and_ctx('pkg/calc.py', old, new.replace('y * 2', 'y * 20'), config)
    reviewer = mr.ModelReviewer(config, model=tiny)
    reviewer.max_new_tokens = 24
    third = reviewer.review(files3, ctx3)
    assert third.stats['model_calls'] == 3 and third.stats['cache_hits'] == 2


def test_no_cache_config_always_calls_the_model(tiny, cache_dir):
    config = defaults().override(model=TINY, triage_threshold=1.0, cache=False, model_findings="info")
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP, config)
    for _ in range(2):
        result = mr.ModelReviewer(config, model=tiny).review(files, ctx)
        assert result.stats['model_calls'] == 1 and result.stats['cache_hits'] == 0
    assert not cache_dir.exists()


def test_missing_model_is_a_one_line_model_error_naming_the_fetch_command(tmp_path, cache_dir):
    config = defaults().override(model=TINY, model_dir=str(tmp_path / "empty-models"),
                                 model_findings="info")
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP, config)
    with pytest.raises(ModelError) as e:
        mr.ModelReviewer(config).review(files, ctx)
    assert '\n' not in str(e.value) and 'reviewbot model fetch' in str(e.value)
    # with its findings and its fixes off (the defaults) the model is never needed: not even looked for
    off = defaults().override(model=TINY, model_dir=str(tmp_path / 'empty-models'))
    reviewer = mr.ModelReviewer(off)
    assert not reviewer.uses_model and reviewer.review(files, ctx).stats['triage'] == 'off'
    assert 'no work' in reviewer.plan(files, ctx)[0]
    # the fixes on: loaded in the reviewer (its thread, its time), so the missing model is said there
    with pytest.raises(ModelError):
        mr.ModelReviewer(off.override('fix', model='on')).review(files, ctx)


def test_default_model_flags_sql_built_from_user_input(cache_dir):
    # Triage off: the calibrated default threshold (0.87) clears this hunk (risk 0.84 here; the
    # triage signal is weak, see eval/results/model.md), and in the default reviewer set ruff's
    # S608 is what flags it. This checks the rest: the scan picks the line, the model's message
    # passes validation, and the finding lands on it.
    model = _load(DEFAULT)
    config = defaults().override(triage_threshold=0.0, model_findings='on')
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP, config)
    result = mr.ModelReviewer(config, model=model).review(files, ctx)
    assert any(f.line in (12, 13) for f in result.findings), (result.findings, result.skipped)


def test_a_finding_answered_from_the_result_cache_says_so(tiny, cache_dir):
    """The cache holds what an earlier run's model answered: a finding rebuilt from it is marked
    `cached` and a note counts them, so a report never passes off an old answer as this run's."""
    import json as json_
    config = defaults().override(model=TINY, triage_threshold=0.0, model_findings='on')
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP, config)
    reviewer = mr.ModelReviewer(config, model=tiny)
    reviewer.max_new_tokens = 8
    first = reviewer.review(files, ctx)
    answers = [p for p in cache_dir.rglob('*.json') if 'text' in json_.loads(p.read_text())]
    assert answers and first.stats['cache_hits'] == 0
    for path in answers:  # what an earlier model said about the chosen line: a real defect
        line = json_.loads(path.read_text())['text'].split(':', 1)[0]
        path.write_text(json_.dumps({'text': f'{line}: security: the query is built by concatenating '
                                             'the user name into the SQL text'}))
    second = mr.ModelReviewer(config, model=tiny).review(files, ctx)
    assert second.findings and second.stats['model_calls'] == 0
    assert all(f.extra.get('cached') is True and f.to_dict()['cached'] is True for f in second.findings)
    (note,) = [n for n in second.notes if 'result cache' in n]
    assert note.startswith(f'model: {len(second.findings)} of {len(second.findings)} findings answered')


@pytest.fixture(scope='module')
def tiny_int4():
    """The tiny model at int4 (its registry default is int8, which never splits a prompt)."""
    from reviewbot.engine import load_model
    try:
        return load_model(TINY, precision='int4')
    except ModelError as e:
        pytest.skip(f'{TINY} int4 not exported here: {e}')


@pytest.mark.parametrize('which', ['tiny', 'tiny_int4'])
def test_triage_scores_equal_the_full_vocabulary_scoring(which, request, cache_dir):
    tiny = request.getfixturevalue(which)
    old, new = many_hunks_source(3)
    files, ctx = files_and_ctx('pkg/calc.py', old, new)
    files2, _ = files_and_ctx('app/db.py', OLD_APP, NEW_APP)
    reviewer = mr.ModelReviewer(defaults().override(model=TINY), model=tiny)
    units, _ = reviewer.units(files, ctx)
    units2, _ = reviewer.units(files2, ReviewContext(config=defaults(), read_new_file=lambda p: NEW_APP))
    oracle = FullVocabularyScoring(tiny)
    for u in units + units2:
        got, want = mr.scan_unit(tiny, u), mr.scan_unit(oracle, u)
        assert got.risk == pytest.approx(want.risk, abs=1e-4)
        assert got.line_surprisal.keys() == want.line_surprisal.keys()
        for n, value in want.line_surprisal.items():
            assert got.line_surprisal[n] == pytest.approx(value, abs=1e-4)
        assert mr.pick_line(got) == mr.pick_line(want)
        answer_only = mr.scan_unit(tiny, u, lines=False)  # what triage computes
        assert answer_only.risk == pytest.approx(want.risk, abs=1e-4)
        assert not answer_only.lines_scored and answer_only.line_surprisal == {}


def test_generation_after_triage_feeds_only_the_answer_start(tiny_int4, cache_dir):
    tiny = tiny_int4
    # generate for every unit
    config = defaults().override(model=TINY, triage_threshold=0.0, cache=False, model_findings='on')
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP, config)
    reviewer = mr.ModelReviewer(config, model=tiny)
    reviewer.max_new_tokens = 8
    tiny.prefix_cache.clear()
    (u,), _ = reviewer.units(files, ctx)
    stats = {'model_calls': 0, 'cache_hits': 0, 'triaged': 0}
    reviewer.triage(u, '', ctx, stats)
    assert not u.scan.lines_scored  # triage asked for the answer's probability only
    prompt_tokens = len(tiny.encode(tiny.chat_prompt(mr.review_messages(u))))
    before = tiny.tokens_fed
    reviewer._score_lines(u, '', ctx, stats)
    assert u.scan.lines_scored and u.scan.line_surprisal
    # scoring the lines feeds the unit's view again, not the system prompt and examples before it
    assert tiny.tokens_fed - before < prompt_tokens * 0.75
    before = tiny.tokens_fed
    text, complete = reviewer.answer(u, '', ctx, stats)
    assert complete and text.startswith(f'L{mr.pick_line(u.scan)}:')
    # generation feeds `L<n>:` and its own tokens, never the prompt again
    assert tiny.tokens_fed - before <= 6 + reviewer.max_new_tokens, (tiny.tokens_fed - before, prompt_tokens)
    assert stats['model_calls'] == 3


def test_answer_after_an_answer_only_triage_completes_the_scan_and_caches_it(tiny, cache_dir):
    config = defaults().override(model=TINY, triage_threshold=0.0, model_findings='on')
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP, config)
    reviewer = mr.ModelReviewer(config, model=tiny)
    reviewer.max_new_tokens = 8
    result = reviewer.review(files, ctx)
    assert result.stats['generated'] == 1 and result.stats['model_calls'] == 3  # triage, lines, answer
    (u,), _ = reviewer.units(files, ctx)
    again = mr.ModelReviewer(config, model=tiny)
    again.max_new_tokens = 8
    rerun = again.review(files, ctx)
    assert rerun.stats['model_calls'] == 0 and rerun.findings == result.findings
    cached = reviewer.cache.get(reviewer.triage_key(u, ''))
    assert cached['lines_scored'] and cached['lines']


def test_the_shared_prompt_head_is_kept_in_the_cache_dir_only_with_the_cache_on(tiny_int4, cache_dir):
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP)
    tiny_int4.prefix_cache.clear()
    off = mr.ModelReviewer(defaults().override(model=TINY, cache=False, model_findings="info"), model=tiny_int4)
    cleared = off.review(files, ctx)
    assert not (cache_dir / 'kv').exists()
    tiny_int4.prefix_cache.clear()
    on = mr.ModelReviewer(defaults().override(model=TINY, model_findings="info"), model=tiny_int4)
    result = on.review(files, ctx)
    assert len(list((cache_dir / 'kv').glob('*.npz'))) == 1
    assert [s.reason for s in result.skipped] == [s.reason for s in cleared.skipped]


# --- hunks the analyzers already explain; answers sized to the time left --------------------------
class Spy:
    """The real model, with a record of which unit each call was for (by its added line's text);
    `after_answer` runs after each generation (the tests use it to spend the budget)."""

    def __init__(self, model, marks: dict[str, str], after_answer=None):
        self._model, self._marks, self._after = model, marks, after_answer
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str):
        attr = getattr(self._model, name)
        if not callable(attr) or name in ('encode', 'decode', 'chat_prompt'):
            return attr

        def call(*args, **kwargs):
            text = ' '.join(a for a in args if isinstance(a, str))
            who = [unit for mark, unit in self._marks.items() if mark in text]
            out = attr(*args, **kwargs)
            if who and name != 'keep_prefix':
                self.calls.append((name, who[0]))
                if name == 'generate' and self._after is not None:
                    self._after()
            return out
        return call


def explained_setup(tiny, after_answer=None):
    # generate for every unit
    config = defaults().override(model=TINY, triage_threshold=0.0, cache=False, model_findings='on')
    old, new = many_hunks_source(2)
    files, ctx = files_and_ctx('pkg/calc.py', old, new, config)
    spy = Spy(tiny, {'y = y * 2': 'first', 'y = y * 3': 'second'}, after_answer)
    reviewer = mr.ModelReviewer(config, model=spy)  # type: ignore[arg-type]
    reviewer.max_new_tokens = 8
    return files, ctx, reviewer, spy


def test_a_hunk_an_analyzer_flagged_gets_model_work_only_after_the_others(tiny, cache_dir):
    files, ctx, reviewer, spy = explained_setup(tiny)
    plain = reviewer.review(files, ctx)
    assert [who for _, who in spy.calls][:1] == ['first']  # diff order when nothing is explained
    files, ctx, reviewer, spy = explained_setup(tiny)
    ctx.explained.add(('pkg/calc.py', files[0].hunks[0].new_start))  # an analyzer flagged the first hunk
    flagged = reviewer.review(files, ctx)
    whose = [who for _, who in spy.calls]
    assert 'first' in whose and 'generate' in [n for n, who in spy.calls if who == 'second']
    # every call for the second unit (triage, line scores, answer) came before any for the first
    assert whose.index('first') == whose.count('second'), spy.calls
    # with the budget to spare the report is the same as when nothing was explained
    assert (flagged.findings, flagged.skipped, flagged.notes) == (plain.findings, plain.skipped, plain.notes)
    assert flagged.stats['explained_last'] == 1


def test_a_flagged_hunk_is_skipped_with_a_reason_when_the_budget_ends_first(tiny, cache_dir):
    box: dict = {}
    files, ctx, reviewer, spy = explained_setup(tiny, after_answer=lambda: setattr(box['ctx'], 'deadline',
                                                                                   time.monotonic() - 1))
    box['ctx'] = ctx
    ctx.deadline = time.monotonic() + 3600
    ctx.explained.add(('pkg/calc.py', files[0].hunks[0].new_start))
    result = reviewer.review(files, ctx)
    assert {who for _, who in spy.calls} == {'second'}  # no model work at all for the flagged hunk
    assert [(s.hunk, s.reason) for s in result.skipped] == \
        [(0, 'budget: not reached; an analyzer already flagged this hunk')]
    assert ('model: 1 of 2 units were not reviewed: an analyzer already flagged their hunks, so they came '
            'last, and the budget did not reach them') in result.notes


def test_an_answer_is_sized_to_the_time_left(tiny, cache_dir):
    config = defaults().override(model=TINY, triage_threshold=0.0, cache=False, model_findings='on')
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP, config)
    reviewer = mr.ModelReviewer(config, model=tiny)
    (u,), _ = reviewer.units(files, ctx)
    pace = reviewer.pace
    pace.prefill_rate, pace.decode_rate = 1000.0, 10.0
    most = reviewer.max_new_tokens
    assert pace.tokens_for(u.view, ctx, most, loaded=True) == most  # no deadline: no limit
    prompt = pace.prompt_cost(u.view, 0, loaded=True)
    ctx.deadline = time.monotonic() + prompt + GENERATION_MARGIN_SECONDS + 3.0
    assert 25 <= pace.tokens_for(u.view, ctx, most, loaded=True) <= 30  # ~3 s at 10 tokens/s
    ctx.deadline = time.monotonic() + prompt  # not even the margin: nothing is started
    assert pace.tokens_for(u.view, ctx, most, loaded=True) == 0
    stats = {'model_calls': 0, 'cache_hits': 0, 'triaged': 0}
    u.scan = triage.Scan(0.9, {12: 1.0}, lines_scored=True)
    assert reviewer.answer(u, '', ctx, stats) is None and stats['model_calls'] == 0


def test_free_form_findings_are_off_by_default_and_info_when_asked(tiny) -> None:
    """Issue 18: the model's own findings measured under 50 % precision, so the defaults neither
    triage nor generate for them (issue 17: no model work nothing reads) and say so in the plan;
    "info" shows them at info severity; "on" as the model labels them."""
    from reviewbot.core import Severity
    old, new = many_hunks_source(3)
    shown = {}
    for mode in ('off', 'info', 'on'):
        config = defaults().override(model=TINY, triage_threshold=0.0, cache=False)
        if mode != 'off':
            config = config.override(model_findings=mode)
        files, ctx = files_and_ctx('pkg/calc.py', old, new, config)
        reviewer = mr.ModelReviewer(config, model=tiny if mode != 'off' else None)
        reviewer.max_new_tokens = 24
        result = reviewer.review(files, ctx)
        shown[mode] = result
        if mode == 'off':
            # nothing reads a triage score then: the model is not even loaded, and plan() says why
            assert reviewer._model is None
            assert any('model_findings = "off"' in line for line in reviewer.plan(files, ctx))
    assert shown['off'].stats['triage'] == 'off' and not shown['off'].findings and not shown['off'].skipped
    assert shown['info'].stats['generated'] == shown['on'].stats['generated'] > 0
    assert all(f.severity is Severity.INFO for f in shown['info'].findings)
    assert ([(f.line, f.message) for f in shown['info'].findings]
            == [(f.line, f.message) for f in shown['on'].findings])


def test_a_triage_the_deadline_stops_is_reported_as_not_reached(tiny, cache_dir):
    # the time estimate said yes, the machine was slower: the engine stops between graph calls and the
    # unit is reported as skipped for the budget, never as an error
    from reviewbot.errors import DeadlinePassed

    seen: list[float | None] = []

    class Slow:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def token_surprisals(self, prefix, text, last=None, deadline=None):
            seen.append(deadline)
            raise DeadlinePassed('the deadline passed before the model call')

    config = defaults().override(model=TINY, cache=False, model_findings="info")
    files, ctx = files_and_ctx('app/db.py', OLD_APP, NEW_APP, config, deadline=time.monotonic() + 600)
    result = mr.ModelReviewer(config, model=Slow(tiny)).review(files, ctx)
    assert seen == [ctx.deadline]
    assert result.findings == [] and [s.reason for s in result.skipped] == ['budget: not reached']
