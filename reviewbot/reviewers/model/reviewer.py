"""ModelReviewer: units are triaged (one prefill each), the riskiest generated while the budget lasts,
every answer validated and cached; and from_config, the registry's factory."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from reviewbot import defaults
from reviewbot.config import Config
from reviewbot.core import FileChange, Finding, Severity, Skipped
from reviewbot.engine import backend
from reviewbot.engine.backend import Backend
from reviewbot.errors import DeadlinePassed, ModelError
from reviewbot.reviewers import ReviewContext, ReviewerResult
from reviewbot.reviewers.model import triage as triage_mod
from reviewbot.reviewers.model.cache import ResultCache, cache_key, default_cache_dir
from reviewbot.reviewers.model.pace import Pace, time_for
from reviewbot.reviewers.model.prompt import (
    PROMPT_OVERHEAD_CHARS,
    PROMPT_VERSION,
    read_guidelines,
    review_messages,
    unit_header,
)
from reviewbot.reviewers.model.triage import Scan, pick_line, scan_unit, unit_risk
from reviewbot.reviewers.model.units import Unit, language, make_units, render_view
from reviewbot.reviewers.model.validate import NAME, parse_output, validate

MAX_NEW_TOKENS = 64  # three finding lines
OFF_PLAN = ('free-form findings off (model_findings = "off": their measured precision is under 50 %; "on" or '
            '"info" asks for them), so nothing is triaged; ')
DEFAULT_TRIAGE_THRESHOLD = defaults.TRIAGE_THRESHOLD  # calibrated on the eval set: eval/results/model.md


class ModelReviewer:
    name = NAME

    def __init__(self, config: Config, model: Backend | None = None) -> None:
        self.config = config
        self._model: Backend | None = model  # loaded lazily: a fully cached review never loads it
        self.model_name = str(_cfg(config, 'model', '') or '')
        self.model_dir = str(_cfg(config, 'model_dir', '') or '') or None
        self.threads = int(_cfg(config, 'threads', defaults.THREADS))
        self.threshold = float(_cfg(config, 'triage_threshold', DEFAULT_TRIAGE_THRESHOLD))
        self.findings_mode = str(_cfg(config, 'model_findings', defaults.MODEL_FINDINGS))
        use_cache = bool(_cfg(config, 'cache', True))
        self.cache = ResultCache(default_cache_dir() if use_cache else None)
        self.max_new_tokens = MAX_NEW_TOKENS
        self.pace = Pace()  # prefill and decode speeds, measured as we go
        self._head_kept = False
        self._notes: list[str] = []  # e.g. the warm daemon went away (reviewbot.engine.warm)

    @property
    def model(self) -> Backend:
        """The engine.Backend: an in-house server when configured, else the warm daemon's model,
        else the model loaded in this process."""
        if self._model is None and _cfg(self.config, 'server', ''):
            # a team's in-house server instead of a local model; model_for refuses (ConfigError)
            # a server that is not declared in-house, so no code reaches it
            from reviewbot.engine.remote import model_for
            self._model = model_for(self.config)
        if self._model is None:
            self._model = self._warm_model()
        if self._model is None:
            self._model = self._load_local()
        return self._model

    def _warm_model(self) -> Backend | None:
        """A running `reviewbot daemon`'s model (engine.warm); None: it loads in this process."""
        from reviewbot.engine import warm
        section = _section(self.config, 'daemon')
        mode = warm.mode_from(str(section.get('mode', defaults.DAEMON_MODE)))
        model, notes = warm.connect(self.model_name or None, self.model_dir, self.threads, mode=mode,
                                    fallback=self._load_local,
                                    idle_minutes=float(section.get('idle_minutes', defaults.DAEMON_IDLE_MINUTES)))
        self._notes.extend(notes)
        return model

    def _load_local(self) -> Backend:
        """The model loaded in this process."""
        try:
            from reviewbot.engine import load_model
            return load_model(self.model_name or None, model_dir=self.model_dir,
                              threads=self.threads)
        except ModelError:
            raise
        except ImportError as e:
            raise ModelError(f'the local model engine is not available ({e}): reinstall '
                             'reviewbot, or remove "model" from the reviewers') from None
        except Exception as e:
            name = self.model_name or defaults.MODEL
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ModelError(f'cannot load model {name!r} ({first[:200]}): run '
                             f'`reviewbot model fetch {name} --force`') from None

    @property
    def uses_model(self) -> bool:
        """Whether this review asks the model anything: its findings, or (`[fix] model` not "off") the
        fix proposals, for which the model is then loaded here. Neither is on by default."""
        fix = str(_section(self.config, 'fix').get('model', defaults.FIX_MODEL))
        return self.findings_mode != 'off' or fix != 'off'

    def model_identity(self) -> str:  # name and precision for cache keys, without loading the model
        server = str(_cfg(self.config, 'server', '') or '')
        if server:  # the same before and after the server is first asked, and never a local model's
            return f'server|{server.rstrip("/")}'
        if self._model is not None:
            return backend.identity(self._model)
        try:
            from reviewbot.engine.paths import model_path
            folder = model_path(self.model_name, self.model_dir) if self.model_name else None
        except Exception:
            folder = None
        if folder is None:
            return f'{self.model_name}|'
        return f'{self.model_name}|{folder.name.removeprefix("onnx-")}'

    def units(self, files: list[FileChange], ctx: ReviewContext) -> tuple[list[Unit], list[Skipped]]:
        units: list[Unit] = []
        skipped: list[Skipped] = []
        for fc in files:
            if not fc.hunks or fc.added_count == 0:
                continue
            if language(fc.path) is None:
                skipped.append(Skipped(fc.path, 'model: not a source file the model reviews',
                                       reviewer=NAME, lines=fc.added_count))
                continue
            try:
                text = ctx.read_new_file(fc.path)
            except Exception:
                text = None
            for u in make_units(fc):
                u.view = render_view(u, text)
                units.append(u)
        return units, skipped

    def plan(self, files: list[FileChange], ctx: ReviewContext) -> list[str]:
        if self.findings_mode == 'off':
            where = ('in-house server' if _cfg(self.config, 'server', '')
                     else f'local model {self.model_name or "(default)"}')
            job = ('loaded for the fix proposals ([fix] model)' if self.uses_model
                   else 'no work: its fix proposals are off too ([fix] model = "off")')
            return [f'model: {where}: {OFF_PLAN}{job}']
        units, skipped = self.units(files, ctx)
        left = ctx.time_left()
        budget = 'no time limit' if left is None else f'budget {max(left, 0):.0f} s'
        lines = [(f'model: local model {self.model_name or "(default)"}, {len(units)} units '
                  f'to triage, {budget}; runs on this machine')]
        lines += [f'  model skips {s.path}: {s.reason}' for s in skipped]
        return lines

    def guidelines(self, ctx: ReviewContext) -> str:
        return read_guidelines(self.config, str(_cfg(self.config, 'guidelines', '') or ''), ctx.repo_root)

    def review(self, files: list[FileChange], ctx: ReviewContext) -> ReviewerResult:
        result = ReviewerResult()
        try:
            return self._review(files, ctx, result)
        finally:
            # every request to an in-house server is in the report's egress log
            take = getattr(self._model, 'take_egress', None)
            if callable(take):
                result.egress.extend(take())
            notes = getattr(self._model, 'take_notes', None)
            result.notes.extend(self._notes + (notes() if callable(notes) else []))
            self._notes = []

    def _review(self, files: list[FileChange], ctx: ReviewContext, result: ReviewerResult) -> ReviewerResult:
        stats: dict[str, Any] = {'units': 0, 'triaged': 0, 'generated': 0, 'cache_hits': 0,
                                 'model_calls': 0, 'findings': 0, 'dropped': {}, 'explained_last': 0}
        result.stats = stats
        if self.findings_mode == 'off':
            # Nothing reads a triage score: no prefill. The model is loaded (in this thread, its time) for fixes only.
            stats['triage'] = 'off'  # said by plan(), not in every report
            if self.uses_model and any(language(fc.path) and fc.added_count for fc in files) and \
                    time_for(ctx, defaults.FIX_MODEL_MIN_SECONDS):
                _ = self.model
            return result
        units, skipped = self.units(files, ctx)
        stats['units'] = len(units)
        result.skipped.extend(skipped)
        if not units:
            return result
        guidelines = self.guidelines(ctx)
        starts = {fc.path: [h.new_start for h in fc.hunks] for fc in files}

        def explained(u: Unit) -> bool:
            return any((u.path, starts[u.path][i]) in ctx.explained for i in u.hunk_indexes)

        # Units whose hunks an analyzer already flagged (ctx.explained, filled while this runs) get no
        # model work until every other unit is triaged and answered; then, while the budget lasts, they
        # are reviewed too. The report is assembled in the same order whichever pass did a unit.
        found: dict[int, list[Finding]] = {}  # id(unit) -> its findings, once answered
        cut: set[int] = set()  # id(unit) of answers the deadline cut
        later = [u for u in units if explained(u)]
        self._pass([u for u in units if not explained(u)], later, explained, guidelines, ctx, stats, found, cut)
        stats['explained_last'] = len(later)
        self._pass(later, None, explained, guidelines, ctx, stats, found, cut)

        flagged = {id(u) for u in later}

        def why_not(u: Unit) -> str:
            return 'budget: not reached' + ('; an analyzer already flagged this hunk' if id(u) in flagged else '')

        for u in units:
            if u.score is not None and u.score < self.threshold:
                result.skipped.append(self._skip(u, f'triage: low risk score {u.score:.2f}'))
        for u in units:
            if u.score is None:
                result.skipped.append(self._skip(u, why_not(u)))
        risky = sorted((u for u in units if u.score is not None and u.score >= self.threshold), key=_risk_order)
        for u in risky:
            if id(u) not in found:
                result.skipped.append(self._skip(u, why_not(u)))
            elif id(u) in cut:
                result.skipped.append(self._skip(u, 'budget: generation cut at the deadline'))
            result.findings.extend(found.get(id(u), []))
        left_out = sum(1 for u in later
                       if u.score is None or (u.score >= self.threshold and id(u) not in found))
        if left_out:
            result.notes.append(f'model: {left_out} of {len(units)} units were not reviewed: an analyzer '
                                'already flagged their hunks, so they came last, and the budget did not reach them')
        stats['findings'] = len(result.findings)
        cached = sum(1 for f in result.findings if f.extra.get('cached'))
        if cached:
            result.notes.append(f'model: {cached} of {len(result.findings)} findings answered from the '
                                'result cache (computed in an earlier run; nothing was asked of the '
                                'model for them in this one)')
        if stats['dropped']:
            parts = ', '.join(f'{n} {r}' for r, n in sorted(stats['dropped'].items()))
            result.notes.append(f'model: dropped {sum(stats["dropped"].values())} unusable '
                                f'model findings ({parts})')
        return result

    def _pass(self, todo: list[Unit], defer: list[Unit] | None, explained: Callable[[Unit], bool],
              guidelines: str, ctx: ReviewContext, stats: dict[str, Any], found: dict[int, list[Finding]],
              cut: set[int]) -> None:
        """Triage `todo` (one prefill each, in diff order), then answer its units at or above the
        threshold, riskiest first, while time allows. With `defer`: a unit an analyzer flags
        meanwhile is moved there instead."""
        triaged: list[Unit] = []
        for u in todo:
            if defer is not None and explained(u):
                defer.append(u)
            elif u.score is not None or self.triage(u, guidelines, ctx, stats) is not None:
                triaged.append(u)
        for u in sorted((u for u in triaged if (u.score or 0.0) >= self.threshold), key=_risk_order):
            if defer is not None and explained(u):
                defer.append(u)
                continue
            answer = self.answer(u, guidelines, ctx, stats)
            if answer is None:
                continue  # not reached: said when the report is assembled
            text, complete = answer
            if not complete:
                cut.add(id(u))
            stats['generated'] += 1
            checked = validate(parse_output(text), u, confidence=u.score)
            for reason, n in checked.dropped.items():
                stats['dropped'][reason] = stats['dropped'].get(reason, 0) + n
            if u.cached_answer:  # the finding says it was computed in an earlier run
                checked.findings[:] = [dataclasses.replace(f, extra={**f.extra, 'cached': True})
                                       for f in checked.findings]
            if self.findings_mode == 'info':
                checked.findings[:] = [dataclasses.replace(f, severity=Severity.INFO) for f in checked.findings]
            found[id(u)] = checked.findings

    def triage_key(self, u: Unit, guidelines: str) -> str:
        return cache_key('scan', PROMPT_VERSION, self.model_identity(), guidelines,
                         unit_header(u), u.view)

    def answer_key(self, u: Unit, guidelines: str, line: int) -> str:
        return cache_key('review', PROMPT_VERSION, self.model_identity(), guidelines,
                         unit_header(u), u.view, str(line))

    def triage(self, u: Unit, guidelines: str, ctx: ReviewContext,
               stats: dict[str, Any]) -> float | None:
        """The unit's risk score (cached); None when the budget does not allow the prefill."""
        key = self.triage_key(u, guidelines)
        hit = self.cache.get(key)
        if hit is not None:
            u.scan = Scan.from_cache(hit)
            if u.scan is not None:
                u.score = unit_risk(u.scan)
                stats['cache_hits'] += 1
                stats['triaged'] += 1
                return u.score
        if not time_for(ctx, self._cost(u)):
            return None
        t0 = time.perf_counter()
        self._keep_head(u, guidelines)
        # The line surprisals are needed only to pick where generation starts (or when they are
        # the triage signal): most units are cleared by triage and never need them.
        try:
            u.scan = scan_unit(self.model, u, guidelines, lines=triage_mod.TRIAGE_SIGNAL != 'answer',
                               deadline=ctx.deadline)
        except DeadlinePassed:  # the estimate was optimistic (a loaded machine): not triaged, said so
            u.scan = None
            return None
        self.pace.note_prefill(u.view + ' ' * PROMPT_OVERHEAD_CHARS, time.perf_counter() - t0)
        u.score = unit_risk(u.scan)
        stats['model_calls'] += 1
        stats['triaged'] += 1
        self.cache.put(key, u.scan.to_cache())
        return u.score

    def _keep_head(self, u: Unit, guidelines: str) -> None:
        """Once per review: the prompt head every unit shares (system prompt, guidelines and the
        two examples, ~300 tokens) comes from the key/values an earlier run kept in the cache dir,
        so a cold hook does not prefill it again. Off with the result cache off."""
        if self._head_kept or self.cache.root is None:
            return
        self._head_kept = True
        keep = getattr(self.model, 'keep_prefix', None)
        if keep is None:
            return
        prompt = self.model.chat_prompt(review_messages(u, guidelines))
        at = prompt.rfind(unit_header(u))
        if at > 0:
            keep(prompt[:at], self.cache.root / 'kv')

    def _score_lines(self, u: Unit, guidelines: str, ctx: ReviewContext, stats: dict[str, Any]) -> bool:
        """Complete a unit's answer-only scan with its line surprisals; False when out of time."""
        if not time_for(ctx, self._cost(u)):
            return False
        risk = u.scan.risk if u.scan is not None else None
        try:
            u.scan = scan_unit(self.model, u, guidelines, deadline=ctx.deadline)
        except DeadlinePassed:
            return False
        if risk is not None:
            u.scan.risk = risk  # the same number; the score already decided on stays as it was
        stats['model_calls'] += 1
        self.cache.put(self.triage_key(u, guidelines), u.scan.to_cache())
        return True

    def answer(self, u: Unit, guidelines: str, ctx: ReviewContext,
               stats: dict[str, Any]) -> tuple[str, bool] | None:
        """The model's finding for the unit's least natural added line (cached), and whether it
        is complete; None when the budget does not allow it."""
        if u.scan is not None and not u.scan.lines_scored and not self._score_lines(u, guidelines, ctx, stats):
            return None
        line = pick_line(u.scan) if u.scan is not None else None
        if line is None:
            return '', True
        key = self.answer_key(u, guidelines, line)
        hit = self.cache.get(key)
        if hit is not None and isinstance(hit.get('text'), str):
            stats['cache_hits'] += 1
            u.cached_answer = True
            return hit['text'], True
        tokens = self.pace.tokens_for(u.view, ctx, self.max_new_tokens, loaded=self._model is not None)
        if tokens < self.max_new_tokens // 3:
            return None
        # The answer is started at the chosen line: the model only says what is wrong there.
        start = f'L{line}:'
        prompt = self.model.chat_prompt(review_messages(u, guidelines)) + start
        t0 = time.perf_counter()
        gen = self.model.generate(prompt, max_new_tokens=tokens, stop=('\n',),
                                  temperature=0.0, seed=0, deadline=ctx.deadline)
        self.pace.note_generation(gen, prompt, time.perf_counter() - t0)
        stats['model_calls'] += 1
        text = start + gen.text if isinstance(getattr(gen, 'text', None), str) else ''
        reason = getattr(gen, 'stop_reason', '')
        if reason == 'deadline' or (reason == 'length' and tokens < self.max_new_tokens):
            return '', False  # a cut message is no message; not cached
        self.cache.put(key, {'text': text})
        return text, True

    def _skip(self, u: Unit, reason: str) -> Skipped:
        return Skipped(u.path, reason, reviewer=NAME, hunk=u.hunk_indexes[0], lines=len(u.added))

    def _cost(self, u: Unit) -> float:
        return self.pace.prompt_cost(u.view, 0, loaded=self._model is not None)


def _risk_order(u: Unit) -> tuple[float, str, int]:
    return (-(u.score or 0.0), u.path, u.first_line)


def _section(config: Config, name: str) -> dict[str, Any]:
    try:
        return config.section(name)
    except (KeyError, AttributeError):
        return {}


def _cfg(config: Config, key: str, default: Any) -> Any:
    try:
        return config.get(key)
    except KeyError:
        return default


def from_config(config: Config, *, model: Backend | None = None) -> ModelReviewer:
    """The registry's factory (reviewbot.reviewers.REGISTRY). `model`: an already loaded model to use
    (the server's own), else the reviewer loads the configured one when it first needs it."""
    return ModelReviewer(config, model=model)
