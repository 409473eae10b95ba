"""Files reviewbot writes or reads in a checkout, where a pull request decides what is on disk.

A pull request can commit any name as a symbolic link (or a FIFO, or a directory link); reviewbot
never follows one it did not make:
- atomic_write (atomic_write_bytes): every output file (reports, SARIF, JSON, baseline, fix patch,
  the model's caches) is written to a new, exclusively created temporary file next to it, then
  renamed over the target. The rename replaces a link at the target instead of writing through it,
  and no predictable `<name>.tmp` is opened.
- open_inside: a file named by a path relative to a root (the repository) is opened one component
  at a time, each with O_NOFOLLOW, so a link anywhere on the way is refused (and no race between a
  check and the open can swap one in).
- open_regular: open an existing file for reading without following a final link or blocking on a
  FIFO, and check it is a regular file no larger than a cap.
"""
from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path, PurePath


class UnsafePathError(OSError):
    """A path is a symbolic link, leaves its root, or is not a regular file (the message says which)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _new_file_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike[str], text: str, *, encoding: str = 'utf-8',
                 errors: str = 'surrogateescape', inside: Path | None = None) -> None:
    """Write `text` to `path` through a fresh temporary file in the same directory and os.replace.
    A link at `path` is replaced, never followed. With `inside` (a checkout), a `path` under it must
    have no symbolic link among its directories below it either. Raises OSError (UnsafePathError)."""
    atomic_write_bytes(path, text.encode(encoding, errors), inside=inside)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, inside: Path | None = None) -> None:
    """atomic_write for bytes (e.g. a cache file other processes may be reading)."""
    target = Path(path)
    parent = target.parent
    if inside is not None:
        _no_linked_dirs(inside, target)
    try:
        st = os.lstat(target)
        mode = stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else _new_file_mode()
    except OSError:
        mode = _new_file_mode()
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f'.{target.name}.', suffix='.tmp')  # O_CREAT|O_EXCL
    try:
        with os.fdopen(fd, 'wb') as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _no_linked_dirs(inside: Path, target: Path) -> None:
    base = inside if inside.is_absolute() else Path.cwd() / inside
    try:
        rel = (target if target.is_absolute() else Path.cwd() / target).relative_to(base)
    except ValueError:
        return  # not in the checkout: the path is the caller's own choice
    walked = PurePath()
    for name in rel.parts[:-1]:
        if name == '..':
            return  # leaves the checkout (after directories checked so far): the caller's own choice
        walked /= name
        try:
            st = os.lstat(base / walked)
        except FileNotFoundError:
            return  # mkstemp then fails with "No such file or directory"
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePathError(f'{walked} is a symbolic link in the checkout; reviewbot does not '
                                  'write through links there')


def relative_parts(rel: str | os.PathLike[str]) -> tuple[str, ...]:
    """The components of a relative path that stays inside its root. Raises UnsafePathError."""
    p = PurePath(rel)
    if p.is_absolute() or not p.parts or any(part in ('..', '') for part in p.parts):
        raise UnsafePathError(f'{os.fspath(rel)} does not name a file inside the repository')
    return p.parts


def open_inside(root: Path, rel: str | os.PathLike[str], flags: int, mode: int = 0o600, *,
                make_dirs: bool = False) -> int:
    """os.open `root/rel` with no symbolic link in any component of `rel` (each is opened with
    O_NOFOLLOW relative to the one before; `root` itself is trusted). `make_dirs` creates missing
    directories on the way (as mkdir -p would). Returns the fd. Raises UnsafePathError or OSError."""
    parts = relative_parts(rel)
    dir_flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, 'O_CLOEXEC', 0))
    try:
        walked = PurePath()
        for name in parts[:-1]:
            walked /= name
            if make_dirs:
                try:
                    os.mkdir(name, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass
            nxt = _open_component(name, dir_flags, 0, fd, walked, root)
            os.close(fd)
            fd = nxt
        return _open_component(parts[-1], flags | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0), mode, fd,
                               walked / parts[-1], root)
    finally:
        os.close(fd)


def _open_component(name: str, flags: int, mode: int, dir_fd: int, shown: PurePath, root: Path) -> int:
    try:
        return os.open(name, flags, mode, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            try:
                is_link = stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
            except OSError:
                is_link = False
            if is_link:
                raise UnsafePathError(f'{shown} is a symbolic link in the checkout; reviewbot does not '
                                      'follow links there') from None
            if e.errno == errno.ENOTDIR:
                raise UnsafePathError(f'{shown} is not a directory') from None
        raise


def open_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of `path`, an existing regular file no larger than `max_bytes`. A final symbolic
    link, a FIFO, a device or a directory is refused without blocking. Raises UnsafePathError or
    OSError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0))
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EMLINK) and path.is_symlink():
            raise UnsafePathError('it is a symbolic link; reviewbot does not follow links here') from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError('it is not a regular file')
        if st.st_size > max_bytes:
            raise UnsafePathError(f'it is larger than {max_bytes // 1_000_000} MB')
        chunks, left = [], max_bytes + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        data = b''.join(chunks)
        if len(data) > max_bytes:
            raise UnsafePathError(f'it is larger than {max_bytes // 1_000_000} MB')
        return data
    finally:
        os.close(fd)
