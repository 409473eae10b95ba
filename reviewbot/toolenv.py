"""Programs reviewbot runs that live in an environment of their own: semgrep.

semgrep pins old versions of common libraries (click, ...): installed into reviewbot's (or the
user's) environment it breaks pip's own check of it. So it gets a virtualenv of its own under the
user's cache, built the way pre-commit builds a hook's environment (`python -m venv`, then pip
installs one pinned version):

    <tools>/semgrep-<version>  ->  .semgrep-<version>-<random>/   (symbolic link -> the venv)

<tools> is $REVIEWBOT_TOOLS_DIR, else ($XDG_CACHE_HOME or ~/.cache)/reviewbot/tools. Only
`reviewbot tools install semgrep` (which scripts/setup.sh runs) builds it, never a review. The
venv is built in a fresh directory under a lock (two installs never build it twice), then
published by renaming a link into place, so a half-built environment is never seen. (A venv
itself cannot be moved: its scripts name their interpreter by absolute path.)

Where a review finds semgrep, first match wins (`locate_semgrep`):
  1. an explicit path: $REVIEWBOT_SEMGREP, else `[tool.reviewbot.patterns] semgrep` (used as given;
     not found there is said, with no fallback);
  2. the tool environment of the pinned version, SEMGREP_VERSION;
  3. a `semgrep` on PATH whose version is at least MIN_SEMGREP_VERSION.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from reviewbot.engine.paths import cache_home
from reviewbot.errors import ReviewbotError

SEMGREP_VERSION = '1.187.0'  # what `reviewbot tools install semgrep` installs (the rules are tested on it)
MIN_SEMGREP_VERSION = '1.100.0'  # the oldest semgrep on PATH the bundled rules run on
ENV_SEMGREP = 'REVIEWBOT_SEMGREP'
ENV_TOOLS_DIR = 'REVIEWBOT_TOOLS_DIR'
INSTALL_COMMAND = 'reviewbot tools install semgrep'
MANIFEST = 'reviewbot-tool.json'
TOOLS = ('semgrep',)  # what `reviewbot tools install` knows


class ToolError(ReviewbotError):
    """A tool environment could not be built (one line, exit 2)."""


@dataclasses.dataclass(frozen=True)
class Semgrep:
    """Where semgrep was found: `path` to run (None: not found, `problem` says why in a note)."""
    path: str | None
    origin: str = ''  # ENV_SEMGREP, 'config', 'tool environment', 'PATH'
    version: str | None = None
    problem: str = ''


def tools_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_TOOLS_DIR)
    return Path(explicit).expanduser() if explicit else cache_home(dict(env)) / 'tools'


def env_path(version: str = SEMGREP_VERSION, environ: Mapping[str, str] | None = None) -> Path:
    """The published tool environment of semgrep `version` (a link to the venv)."""
    return tools_dir(environ) / f'semgrep-{version}'


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def installed_env(version: str = SEMGREP_VERSION, environ: Mapping[str, str] | None = None) -> Path | None:
    """The semgrep executable of a complete tool environment of `version`, else None."""
    env = env_path(version, environ)
    binary = env / 'bin' / 'semgrep'
    try:
        manifest = json.loads((env / MANIFEST).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get('version') != version or not _executable(binary):
        return None
    return binary


def _version_tuple(text: str) -> tuple[int, ...] | None:
    m = re.search(r'(\d+)\.(\d+)\.(\d+)', text)
    return tuple(int(g) for g in m.groups()) if m else None


def quiet_env(state: Path | None = None) -> dict[str, str]:
    """The environment semgrep runs with: no metrics, no version check against the network, and
    (given `state`) its settings and log kept out of the user's home directory."""
    env = dict(os.environ, SEMGREP_SEND_METRICS='off', SEMGREP_ENABLE_VERSION_CHECK='0')
    if state is not None:
        env.update(SEMGREP_SETTINGS_FILE=str(state / 'settings.yml'),
                   SEMGREP_LOG_FILE=str(state / 'semgrep.log'), SEMGREP_USER_DATA_FOLDER=str(state))
    return env


@functools.lru_cache(maxsize=8)
def _probe_version(path: str, mtime_ns: int, size: int) -> str | None:
    # `--experimental --version` is the native CLI: ~0.1 s, where plain `--version` takes seconds
    for args in (['--experimental', '--version'], ['--version']):
        with tempfile.TemporaryDirectory(prefix='reviewbot-semgrep-') as tmp:
            try:
                proc = subprocess.run([path, *args], capture_output=True, timeout=60, check=False,
                                      env=quiet_env(Path(tmp)), stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired):
                return None
        found = _version_tuple(proc.stdout.decode('utf-8', 'replace')) if proc.returncode == 0 else None
        if found:
            return '.'.join(map(str, found))
    return None


def probe_version(path: str) -> str | None:
    """`semgrep --version` of an executable, once per process per file version; None if it fails."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _probe_version(path, st.st_mtime_ns, st.st_size)


def locate_semgrep(configured: str = '', environ: Mapping[str, str] | None = None) -> Semgrep:
    """Where semgrep comes from (module docstring). Only a semgrep on PATH is run to ask its
    version; call this when there is something to scan."""
    env = os.environ if environ is None else environ
    for origin, explicit in ((ENV_SEMGREP, env.get(ENV_SEMGREP, '')), ('config', configured)):
        if explicit:
            found = shutil.which(os.path.expanduser(explicit), path=env.get('PATH'))
            if found and os.path.isfile(found):
                return Semgrep(found, origin)
            return Semgrep(None, origin, problem=f'semgrep not found at {explicit!r} ({origin})')
    binary = installed_env(SEMGREP_VERSION, env)
    if binary is not None:
        return Semgrep(str(binary), 'tool environment', SEMGREP_VERSION)
    on_path = shutil.which('semgrep', path=env.get('PATH'))
    if on_path is None:
        return Semgrep(None, problem=f'semgrep not installed: run `{INSTALL_COMMAND}`')
    version = probe_version(on_path)
    too_old = (_version_tuple(version or '') or (0,)) < (_version_tuple(MIN_SEMGREP_VERSION) or ())
    if version is None or too_old:
        have = f'semgrep {version}' if version else 'a semgrep whose version cannot be read'
        return Semgrep(None, 'PATH', version,
                       problem=f'{have} on PATH ({on_path}), {MIN_SEMGREP_VERSION} or newer needed: '
                               f'run `{INSTALL_COMMAND}`')
    return Semgrep(on_path, 'PATH', version)


# --- building the tool environment ---------------------------------------------------------------

@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created) for the block: one builder at a time."""
    import fcntl
    with open(path, 'a+b') as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    except OSError as e:
        raise ToolError(f'{what} failed: {e}') from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.decode('utf-8', 'replace').splitlines()
                 if ln.strip() and not ln.startswith('WARNING:')]
        raise ToolError(f'{what} failed (exit {proc.returncode}): {lines[-1].strip() if lines else "no message"}')


def _collect_garbage(tools: Path) -> None:
    """Build folders no published link points at (an interrupted or replaced build); under the lock."""
    live = {os.readlink(p) for p in tools.glob('semgrep-*') if p.is_symlink()}
    for p in tools.glob('.semgrep-*'):
        if p.name not in live and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        elif p.is_symlink():  # a link that was never renamed into place
            p.unlink(missing_ok=True)


def install_semgrep(version: str = SEMGREP_VERSION, *, force: bool = False,
                    python: str = sys.executable, environ: Mapping[str, str] | None = None,
                    say: Callable[[str], None] = lambda line: None,
                    requirement: str | None = None) -> Path:
    """Build (or find) the tool environment of semgrep `version`; its published path.
    `requirement` replaces `semgrep==<version>` as what pip installs (the tests install a local
    package). Raises ToolError."""
    tools = tools_dir(environ)
    final = env_path(version, environ)
    try:
        tools.mkdir(parents=True, exist_ok=True)
        with _locked(tools / '.semgrep.lock'):
            if not force and installed_env(version, environ) is not None:
                say(f'semgrep {version} is already installed: {final}')
                return final
            _collect_garbage(tools)
            build = Path(tempfile.mkdtemp(prefix=f'.semgrep-{version}-', dir=tools))
            try:
                say(f'building semgrep {version} in its own environment: {final} (once; about a minute)')
                _run([python, '-m', 'venv', str(build)], 'python -m venv')
                _run([str(build / 'bin' / 'python'), '-m', 'pip', 'install', '--quiet', '--no-input',
                      '--disable-pip-version-check', requirement or f'semgrep=={version}'],
                     f'pip install semgrep=={version}')
                if not _executable(build / 'bin' / 'semgrep'):
                    raise ToolError(f'pip install semgrep=={version} left no bin/semgrep')
                (build / MANIFEST).write_text(json.dumps(
                    {'tool': 'semgrep', 'version': version, 'python': python}) + '\n', encoding='utf-8')
                link = build.with_name(build.name + '.link')
                os.symlink(build.name, link)  # relative: the tools folder may be moved whole
                os.replace(link, final)  # the one atomic step: the environment is now visible
            except BaseException:
                shutil.rmtree(build, ignore_errors=True)
                raise
            _collect_garbage(tools)
    except OSError as e:
        raise ToolError(f'cannot build the semgrep environment in {tools}: {e}') from None
    say(f'semgrep {version} installed: {final}')
    return final
