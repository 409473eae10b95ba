"""`reviewbot hook`: the git hook, run by the pre-commit framework or by the plain hook in hooks/.

What it reviews:
  pre-commit   the index against HEAD (exactly what the commit will contain; unstaged edits and
               intent-to-add entries are not in `git diff --cached`, so they are never reviewed)
  pre-push     PRE_COMMIT_FROM_REF..PRE_COMMIT_TO_REF (set by pre-commit), --from-ref/--to-ref, or the
               lines git gives a pre-push hook on stdin (--push-lines). A new branch (remote sha all
               zeros) is reviewed from the parent of its first commit that is on no ref of the remote
               pushed to, or from the empty tree when that commit is a root; this is the range the
               pre-commit framework itself picks for new branches.
It only reads: git is run with GIT_OPTIONAL_LOCKS=0 so even its opportunistic index refresh is off,
and nothing is written into the work tree. SKIP=reviewbot (comma-separated, as pre-commit reads it)
skips it. A missing local model is handled by [hook] on_missing_model (fail-open by default).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reviewbot import answers
from reviewbot.errors import EXIT_FINDINGS, EXIT_OK

HOOK_ID = 'reviewbot'
REPLY_SECONDS = 1.0  # of the hook's budget, kept for what follows the reviewers: grace, fixes, report, exit
MIN_SECONDS = 0.01  # a budget already spent still means "no time", never "no limit" (0)
_ZERO_SHA = re.compile(r'^0+$')


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        'hook', help='run as a git hook: review the index (pre-commit) or the pushed commits (pre-push)',
        description='Run as a git hook. pre-commit: review the index; pre-push: review the pushed '
                    'commits. Never changes the work tree or the index. Exit 0: fine; 1: a finding at '
                    'or above the fail level; 2: usage error or (fail-closed) missing model. '
                    'SKIP=reviewbot skips it.')
    p.add_argument('--stage', choices=('auto', 'pre-commit', 'pre-push', 'manual'), default='auto',
                   help='which hook this is (default: pre-push when pushed refs are known, else pre-commit)')
    p.add_argument('--from-ref', metavar='REV', help='pre-push: the remote side (default $PRE_COMMIT_FROM_REF)')
    p.add_argument('--to-ref', metavar='REV', help='pre-push: the local side (default $PRE_COMMIT_TO_REF)')
    p.add_argument('--remote', metavar='NAME', help='pre-push: the remote pushed to '
                   '(default $PRE_COMMIT_REMOTE_NAME, else any remote)')
    p.add_argument('--push-lines', action='store_true',
                   help="pre-push: read git's '<local ref> <local sha> <remote ref> <remote sha>' lines "
                        'from stdin (what the plain git hook passes on)')
    p.add_argument('--fail-level', choices=('error', 'warning', 'info', 'none'),
                   help='block at this severity (default: [hook] fail_level, else fail_level)')
    p.add_argument('--config', metavar='FILE', help='config file (default: nearest .reviewbot.toml '
                   'or pyproject.toml [tool.reviewbot])')
    p.add_argument('--reviewers', metavar='A,B', help='comma-separated reviewers to run')
    p.add_argument('--budget', type=float, metavar='SECONDS',
                   help='seconds the reviewers (run at once) may use: the hook answers by then with what it has '
                        '(default: [hook] budget)')
    p.add_argument('--model', metavar='NAME', help='local model name or exported model folder')
    p.add_argument('--model-dir', metavar='DIR', help='model cache directory')
    p.add_argument('--no-cache', action='store_true', help='do not use the result cache')
    # pre-commit passes file names when a user overrides pass_filenames; the diff is read from git
    p.add_argument('filenames', nargs='*', help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def skipped_by_env(env: Mapping[str, str]) -> bool:
    """SKIP=a,reviewbot,b as pre-commit reads it (comma-separated, blanks stripped)."""
    return HOOK_ID in {s.strip() for s in env.get('SKIP', '').split(',')}


def _is_zero(sha: str) -> bool:
    return bool(_ZERO_SHA.match(sha))


def new_branch_range(root: Path, remote: str | None, local_sha: str):
    """The commits of `local_sha` that are on no ref of `remote`, as a DiffSource; None when there are none.

    Base: the parent of the oldest such commit; the empty tree when that commit is a root."""
    from reviewbot import git, sources
    if remote not in git.remote_names(root):
        remote = None  # pushed to a URL, not a configured remote: compare with every remote
    new = git.commits_not_on_remote(root, local_sha, remote)
    if not new:
        return None
    first = new[0]
    base = f'{first}^' if git.parents(root, first) else None
    desc = f'pushed new branch: {len(new)} commit(s) not on {remote or "any remote"}'
    return sources.between(root, base, local_sha, desc)


def pushed_range(root: Path, remote: str | None, from_ref: str, to_ref: str):
    """What a push of to_ref over from_ref adds; None for a deletion or when nothing is new."""
    from reviewbot import git, sources
    if _is_zero(to_ref):
        return None  # deleting a remote branch: nothing to review
    if not _is_zero(from_ref) and git.resolve_commit(root, from_ref) is not None:
        return sources.between(root, from_ref, to_ref, f'pushed commits {from_ref[:12]}..{to_ref[:12]}')
    # a new branch, or a remote sha this clone has never fetched (a force-push over unknown work)
    return new_branch_range(root, remote, to_ref)


def parse_push_lines(text: str) -> list[tuple[str, str, str, str]]:
    """git's pre-push stdin: '<local ref> <local sha> <remote ref> <remote sha>' per line."""
    out = []
    for line in text.splitlines():
        parts = line.rsplit(maxsplit=3)
        if len(parts) == 4:
            out.append((parts[0], parts[1], parts[2], parts[3]))
    return out


def hook_sources(args: argparse.Namespace, env: Mapping[str, str], cwd: Path) -> tuple[str, list[Any]]:
    """(stage, DiffSources to review). An empty list means nothing to review."""
    from reviewbot import git, sources
    root = git.repo_root(cwd)
    from_ref = args.from_ref or env.get('PRE_COMMIT_FROM_REF')
    to_ref = args.to_ref or env.get('PRE_COMMIT_TO_REF')
    remote = args.remote or env.get('PRE_COMMIT_REMOTE_NAME') or None
    push = args.stage == 'pre-push' or bool(from_ref and to_ref) or args.push_lines or (
        # pre-commit's pre-push for a new root history sets the branch names but no FROM/TO refs
        args.stage == 'auto' and bool(env.get('PRE_COMMIT_LOCAL_BRANCH') and env.get('PRE_COMMIT_REMOTE_NAME')))
    if args.stage == 'pre-commit' or not push:
        return 'pre-commit', [sources.staged(root)]
    if from_ref and to_ref:
        src = pushed_range(root, remote, from_ref, to_ref)
        return 'pre-push', [src] if src else []
    if args.push_lines:
        found = []
        for _local_ref, local_sha, _remote_ref, remote_sha in parse_push_lines(sys.stdin.read()):
            src = pushed_range(root, remote, remote_sha, local_sha)
            if src is not None:
                found.append(src)
        return 'pre-push', found
    local = env.get('PRE_COMMIT_LOCAL_BRANCH')
    if local:
        # pre-commit's pre-push for a history whose first commit is new: it gives no FROM/TO refs
        return 'pre-push', [sources.between(root, None, local, f'pushed history of {local}')]
    from reviewbot.errors import ReviewbotError
    raise ReviewbotError('pre-push: no pushed range; give --from-ref and --to-ref, or --push-lines '
                         "with git's pre-push lines on stdin")


def fetch_command(config: Any) -> str:
    return f'reviewbot model fetch {config.model} && reviewbot model export {config.model}'


def missing_model_text(err: Exception, config: Any) -> str:
    """The model error with the command that fixes it (the engine's messages usually carry one)."""
    msg = str(err)
    if 'reviewbot model ' not in msg:
        msg += f'; get it with `{fetch_command(config)}`'
    return msg


@dataclasses.dataclass
class FailOpen:
    """A reviewer whose missing model lets the commit through (hook.on_missing_model = fail-open):
    its files are reported as skipped with the reason, the other reviewers still run."""
    inner: Any

    @property
    def name(self) -> str:
        return self.inner.name

    def review(self, files: list, ctx: Any) -> Any:
        from reviewbot.core import Skipped
        from reviewbot.errors import ModelError
        from reviewbot.reviewers import ReviewerResult
        try:
            return self.inner.review(files, ctx)
        except ModelError as e:
            text = missing_model_text(e, ctx.config)
            print(f'reviewbot: {self.name} did not run: {text} '
                  '(hook.on_missing_model = "fail-open": not blocking)', file=sys.stderr)
            return ReviewerResult(
                skipped=[Skipped(f.path, f'{self.name}: model unavailable', self.name, None, f.added_count)
                         for f in files],
                notes=[f'{self.name} did not run: {text}'])

    def plan(self, files: list, ctx: Any) -> list[str]:
        plan = getattr(self.inner, 'plan', None)
        return plan(files, ctx) if plan else [f'{self.name}: review']


@dataclasses.dataclass
class Unavailable:
    """A reviewer that could not even be built because its model is missing (fail-open)."""
    name: str
    reason: str

    def review(self, files: list, ctx: Any) -> Any:
        from reviewbot.core import Skipped
        from reviewbot.reviewers import ReviewerResult
        return ReviewerResult(
            skipped=[Skipped(f.path, f'{self.name}: model unavailable', self.name, None, f.added_count)
                     for f in files],
            notes=[f'{self.name} did not run: {self.reason}'])

    def plan(self, files: list, ctx: Any) -> list[str]:
        return [f'{self.name}: unavailable ({self.reason})']


def hook_reviewers(names: list[str], config: Any, on_missing_model: str) -> list[Any]:
    """Build the reviewers; a ModelError is fatal (fail-closed) or a skipped reviewer (fail-open)."""
    from reviewbot import reviewers as reviewers_mod
    from reviewbot.errors import ModelError
    out: list[Any] = []
    for name in names:
        try:
            built = reviewers_mod.build([name], config)
        except ModelError as e:
            if on_missing_model == 'fail-closed':
                raise  # review_sources says how to get the model, and SKIP=reviewbot
            text = missing_model_text(e, config)
            print(f'reviewbot: {name} did not run: {text} '
                  '(hook.on_missing_model = "fail-open": not blocking)', file=sys.stderr)
            out.append(Unavailable(name, text))
            continue
        out.extend(built if on_missing_model == 'fail-closed' else [FailOpen(r) for r in built])
    return out


def process_age() -> float:
    """Seconds since this process started (Linux /proc), 0.0 where that cannot be read."""
    try:
        fields = Path('/proc/self/stat').read_text().rsplit(')', 1)[1].split()
        started = int(fields[19]) / os.sysconf('SC_CLK_TCK')
        uptime = float(Path('/proc/uptime').read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - started)


def _closed_text(err: Exception, config: Any) -> str:
    return (f'{missing_model_text(err, config)}; blocking (hook.on_missing_model = "fail-closed"); '
            'to commit once without it: SKIP=reviewbot git commit ...')


def review_sources(stage: str, srcs: list[Any], config: Any, *, budget: float,
                   on_missing_model: str, reviewer_names: list[str] | None = None) -> list[Any]:
    """Review each source: (source, Report) for those with anything to review. The reviewers are built
    once, and only when a source has something to review (exit fast when none has)."""
    from reviewbot import pipeline
    from reviewbot.errors import ModelError
    built: list[Any] = []

    def reviewers() -> list[Any]:
        if not built:
            built.extend(hook_reviewers(reviewer_names or config.reviewers, config, on_missing_model))
        return built

    # the budget is the hook's whole answer: the process's start-up so far and the time to report after
    # the reviewers are taken off it, and several pushed ranges share it
    ends = time.monotonic() - process_age() + budget - REPLY_SECONDS if budget else None
    reports = []
    for src in srcs:
        t0 = time.perf_counter()
        left = max(ends - time.monotonic(), MIN_SECONDS) if ends is not None else 0
        try:
            report = pipeline.review(src, config, stage=stage, budget=left, use_baseline=True,
                                     reviewers=reviewers)
        except ModelError as e:  # fail-closed: a reviewer's model is missing
            raise ModelError(_closed_text(e, config)) from None
        if report.coverage.files_reviewed:
            report.timings['total'] = time.perf_counter() - t0
            reports.append((src, report))
    return reports


def _answer_key(src: Any, config: Any, fail_level: str, budget: float, color: bool) -> str:
    """The answer cache's key for a review of the staged changes (reviewbot.answers)."""
    from reviewbot import git
    from reviewbot.baseline import BASELINE_FILE
    root = src.repo_root
    model_manifest = None
    try:
        from reviewbot.engine import paths, warm
        model_manifest = warm.model_folder(config.model or None, config.model_dir or None) / paths.MANIFEST
    except Exception:  # no such model: the answer says so, and is not kept
        pass
    guidelines = config.guidelines
    return answers.key({
        'root': str(root), 'head': src.base_rev, 'index': git.index_state(root, src.base_rev or git.empty_tree(root)),
        'diff': hashlib.sha256(src.data).hexdigest(),
        'config': config.values, 'files_from': config.files_from, 'fail_level': fail_level, 'budget': budget,
        'color': color, 'model': answers.file_identity(model_manifest),
        'guidelines': answers.file_identity(root / guidelines) if guidelines else None,
        'baseline': answers.file_identity(root / BASELINE_FILE)})


def run(args: argparse.Namespace) -> int:
    env = os.environ
    if skipped_by_env(env):
        print('reviewbot: skipped (SKIP=reviewbot)', file=sys.stderr)
        return EXIT_OK
    # read-only git: no opportunistic index refresh by any git command we run
    os.environ['GIT_OPTIONAL_LOCKS'] = '0'
    from reviewbot.commands.review import run_config
    # `pre-commit run` in a CI job: trusted keys from the event's base commit, else their defaults
    config, _ = run_config(args, env)
    hook_cfg = config.section('hook')
    fail_level = args.fail_level or hook_cfg['fail_level'] or config.fail_level
    budget = args.budget if args.budget is not None else hook_cfg['budget']
    stage, srcs = hook_sources(args, env, Path.cwd())
    color = sys.stdout.isatty() and not env.get('NO_COLOR')
    answer_key = None
    if stage == 'pre-commit' and not args.no_cache and config.cache:
        try:
            answer_key = _answer_key(srcs[0], config, fail_level, budget, color)
            cached = answers.load(answer_key)
        except Exception:  # only a cache: whatever goes wrong with it, the review runs as ever
            answer_key = cached = None
        if cached is not None:  # the same index, config and code as an answer given whole before
            sys.stdout.write(cached.stdout)
            sys.stdout.flush()
            print('reviewbot: the same answer as for this index before (nothing it depends on changed; '
                  '--no-cache reviews it again)', file=sys.stderr)
            return cached.code
    from reviewbot import pipeline, reporters
    reports = review_sources(stage, srcs, config, budget=budget,
                             on_missing_model=hook_cfg['on_missing_model'])
    if not reports:
        what = 'staged' if stage == 'pre-commit' else 'in the pushed commits'
        print(f'reviewbot: nothing reviewable {what}', file=sys.stderr)
        return EXIT_OK
    out: list[str] = []
    blocked = False
    for src, report in reports:
        if len(reports) > 1:
            out.append(f'reviewbot: {src.description}\n')
        out.append(reporters.render(report, 'terminal', color=color))
        blocked = pipeline.fails(report, fail_level) or blocked
        fixable = [f.verified_fix for f in report.findings if f.verified_fix is not None]
        if fixable and stage == 'pre-commit':
            # the hook never writes to the work tree: it says the one command that does
            unsafe = ' --unsafe-fixes' if any(fx.safety == 'unsafe' for fx in fixable) else ''
            out.append(f'reviewbot: {len(fixable)} verified fixes; to apply them to the work '
                       f'tree: reviewbot review --staged --apply-fixes{unsafe}\n')
    if blocked:
        action = 'commit' if stage == 'pre-commit' else 'push'
        out.append(f'reviewbot: blocking the {action}: findings at or above {fail_level!r} '
                   f'(fix them, or {action} once with SKIP=reviewbot)\n')
    sys.stdout.write(''.join(out))
    sys.stdout.flush()
    code = EXIT_FINDINGS if blocked else EXIT_OK
    whole = len(reports) == 1 and answers.whole(reports[0][1]) and not pipeline.abandoned()
    if answer_key is not None and whole:
        answers.store(answer_key, answers.Answer(''.join(out), code), work_tree=srcs[0].repo_root)
    if pipeline.abandoned():
        # a reviewer still running past the budget (the model inside onnxruntime, say) must neither
        # delay the answer nor run into the interpreter's shutdown: the report is out, leave now
        sys.stderr.flush()
        os._exit(code)
    return code
