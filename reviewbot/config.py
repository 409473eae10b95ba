"""Configuration: `[tool.reviewbot]` in pyproject.toml, or `.reviewbot.toml` (same keys, top level).

Every key is declared in SCHEMA (reviewbot/config_keys.py) with its type and default; an unknown key
or a value of the wrong type is a one-line ConfigError naming it. Sub-tables (e.g.
`[tool.reviewbot.cloud]`) are sections of SCHEMA. Command-line flags override the file (see `Config.override`).

Every key is also classified in TRUST (config_keys.py): TRUSTED keys decide where code and credentials
go, what is read or what runs, and in CI come only from the base commit's config (with_trusted_from;
reviewbot.ci_env.trusted_config); ORDINARY keys may come from the code under review.
"""
from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from reviewbot.config_keys import (
    ORDINARY,
    SCHEMA,
    TRUST,
    TRUSTED,
    Key,
    credential_env_problem,
)
from reviewbot.errors import ConfigError

# config_keys' tables and checks are also read as reviewbot.config.X
__all__ = ['ORDINARY', 'SCHEMA', 'TRUST', 'TRUSTED', 'Config', 'Key', 'TrustSplit', 'config_in_tree',
           'credential_env_problem', 'defaults', 'find_config_file', 'from_table', 'load', 'table_of',
           'trust_of', 'trusted_keys', 'unclassified_keys', 'with_trusted_from']


@dataclasses.dataclass
class Config:
    values: dict[str, dict[str, Any]]
    source: Path | None = None  # the file the values came from, if any
    # where files named by trusted keys (guidelines) are read: None = the work tree (outside CI);
    # a commit = that commit's blobs (CI: the trusted base); '' = nowhere (CI with no base commit)
    files_from: str | None = None

    def get(self, key: str, section: str = '') -> Any:
        return self.values[section][key]

    def __getattr__(self, key: str) -> Any:  # top-level keys as attributes: cfg.fail_level
        try:
            return self.__dict__['values'][''][key]
        except KeyError:
            raise AttributeError(key) from None

    def section(self, name: str) -> dict[str, Any]:
        return self.values[name]

    def override(self, section: str = '', **flags: Any) -> Config:
        """A copy with command-line flags applied; None means 'not given on the command line'."""
        values = {s: dict(v) for s, v in self.values.items()}
        for key, value in flags.items():
            if value is None:
                continue
            values[section][key] = _check(section, key, value, origin='command line')
        return Config(values, self.source, self.files_from)


def defaults() -> Config:
    return Config({s: {k: _copy(key.default) for k, key in keys.items()} for s, keys in SCHEMA.items()})


def _copy(v: Any) -> Any:
    return list(v) if isinstance(v, list) else v


def _qualified(section: str, key: str) -> str:
    return f'{section}.{key}' if section else key


def _check(section: str, key: str, value: Any, origin: str) -> Any:
    spec = SCHEMA[section].get(key)
    name = _qualified(section, key)
    if spec is None:
        known = ', '.join(sorted(SCHEMA[section]))
        raise ConfigError(f'{origin}: unknown key {name!r} (known: {known})')
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    # bool is an int in Python; never accept true/false where a number is meant, or vice versa
    if isinstance(value, bool) != (bool in types) or not isinstance(value, types):
        want = ' or '.join(t.__name__ for t in types)
        raise ConfigError(f'{origin}: {name} must be {want}, not {type(value).__name__} {value!r}')
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f'{origin}: {name} must be one of {", ".join(map(str, spec.choices))}, '
                          f'not {value!r}')
    if spec.check is not None and (problem := spec.check(value)):
        raise ConfigError(f'{origin}: {name} {problem}')
    return value


def find_config_file(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest .reviewbot.toml, or pyproject.toml with a [tool.reviewbot] table, upwards from start."""
    for d in (start, *start.parents):
        dedicated = d / '.reviewbot.toml'
        if dedicated.is_file():
            return dedicated, _read_toml(dedicated)
        pyproject = d / 'pyproject.toml'
        if pyproject.is_file():
            table = _read_toml(pyproject).get('tool', {}).get('reviewbot')
            if table is not None:
                if not isinstance(table, dict):
                    raise ConfigError(f'{pyproject}: [tool.reviewbot] must be a table')
                return pyproject, table
        if (d / '.git').exists():
            break  # do not wander out of the repository
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f'{path}: cannot read: {e}') from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f'{path}: invalid TOML: {e}') from None


def from_table(table: dict[str, Any], origin: str) -> dict[str, dict[str, Any]]:
    """Validate a parsed table (top-level keys and sub-tables) against SCHEMA."""
    cfg = defaults().values
    for key, value in table.items():
        if isinstance(value, dict) and key in SCHEMA and key != '':
            for sub_key, sub_value in value.items():
                cfg[key][sub_key] = _check(key, sub_key, sub_value, origin)
        else:
            cfg[''][key] = _check('', key, value, origin)
    return cfg


def load(path: Path | None = None, start: Path | None = None) -> Config:
    """Load an explicit config file, else the nearest one from `start` (default: cwd), else defaults."""
    if path is not None:
        if not path.is_file():
            raise ConfigError(f'config file not found: {path}')
        table = _read_toml(path)
        if path.name == 'pyproject.toml':
            table = table.get('tool', {}).get('reviewbot', {})
        return Config(from_table(table, str(path)), path)
    found = find_config_file((start or Path.cwd()).resolve())
    if found is None:
        return defaults()
    file, table = found
    return Config(from_table(table, str(file)), file)


def trust_of(section: str, key: str) -> str | None:
    """TRUSTED or ORDINARY; None for a key nobody classified (a defect the tests catch)."""
    cls = TRUST.get(section)
    if isinstance(cls, str):
        return cls
    return None if cls is None else cls.get(key)


def unclassified_keys() -> list[str]:
    return [_qualified(s, k) for s, keys in SCHEMA.items() for k in keys if trust_of(s, k) is None]


def trusted_keys() -> list[tuple[str, str]]:
    """(section, key) of every key that must come from a trusted config; an unclassified key is
    treated as trusted (fail closed)."""
    return [(s, k) for s, keys in SCHEMA.items() for k in keys if trust_of(s, k) != ORDINARY]


@dataclasses.dataclass(frozen=True)
class TrustSplit:
    config: Config  # the head's ordinary keys, every trusted key from the trusted config
    ignored: tuple[str, ...]  # trusted keys the head set to something else: not used
    trusted_origin: str  # where the trusted keys came from, for the note

    def note(self) -> str | None:
        """One line for stderr and the report, or None when the head changed no trusted key."""
        if not self.ignored:
            return None
        shown = ', '.join(self.ignored[:12]) + (f' and {len(self.ignored) - 12} more'
                                                if len(self.ignored) > 12 else '')
        return (f'config: ignored {shown} as set in the checked-out code: settings that decide where '
                f'code and credentials go, or what is read or run, come from {self.trusted_origin}')


def with_trusted_from(head: Config, trusted: Config, trusted_origin: str,
                      files_from: str | None = None) -> TrustSplit:
    """`head` with every trusted key replaced by `trusted`'s value (pure; no I/O); files named by
    trusted keys are then read from commit `files_from` ('' = from nowhere; None = the work tree)."""
    values = {s: dict(v) for s, v in head.values.items()}
    ignored = []
    for section, key in trusted_keys():
        if head.values[section][key] != trusted.values[section][key]:
            ignored.append(_qualified(section, key))
        values[section][key] = _copy(trusted.values[section][key])
    return TrustSplit(Config(values, head.source, files_from), tuple(ignored), trusted_origin)


def config_in_tree(read: Callable[[str], str | None], start: PurePosixPath
                   ) -> tuple[str, dict[str, Any]] | None:
    """find_config_file for a tree that is not on disk (a commit): `read(path)` gives a file's text
    or None; `start` is the directory (relative to the repository root) to search upwards from."""
    for d in (start, *start.parents):
        prefix = '' if str(d) in ('', '.') else f'{d}/'
        dedicated = read(prefix + '.reviewbot.toml')
        if dedicated is not None:
            return prefix + '.reviewbot.toml', _parse_toml(dedicated, prefix + '.reviewbot.toml')
        pyproject = read(prefix + 'pyproject.toml')
        if pyproject is not None:
            table = _parse_toml(pyproject, prefix + 'pyproject.toml').get('tool', {}).get('reviewbot')
            if table is not None:
                if not isinstance(table, dict):
                    raise ConfigError(f'{prefix}pyproject.toml: [tool.reviewbot] must be a table')
                return prefix + 'pyproject.toml', table
    return None


def table_of(text: str, path: str) -> dict[str, Any]:
    """The reviewbot table of a config file's text: the whole of a .reviewbot.toml, or the
    [tool.reviewbot] table of a pyproject.toml."""
    table = _parse_toml(text, path)
    if PurePosixPath(path).name == 'pyproject.toml':
        table = table.get('tool', {}).get('reviewbot', {})
        if not isinstance(table, dict):
            raise ConfigError(f'{path}: [tool.reviewbot] must be a table')
    return table


def _parse_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f'{origin}: invalid TOML: {e}') from None

