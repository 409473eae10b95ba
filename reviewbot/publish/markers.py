"""Hidden markers that let a re-run recognise its own comments.

Every comment reviewbot writes STARTS with one HTML comment line:
  <!-- reviewbot:fp=<fingerprint> -->                  an inline finding (core Finding.fingerprint)
  <!-- reviewbot:fp=<fingerprint> state=resolved -->   the same, after the finding disappeared
  <!-- reviewbot:summary fps=<fp>,<fp>,... -->          the one summary comment, with every finding of the run
Only the first line is parsed. Untrusted text is escaped by textsafe.prose (`<` becomes `\\<`) and never
starts a body, so model output cannot forge or hide a marker.
"""
from __future__ import annotations

import dataclasses
import re

_FP = r'[0-9a-f]{8,64}'
_MARKER = re.compile(rf'<!-- reviewbot:(?:fp=(?P<fp>{_FP})|(?P<summary>summary))(?P<attrs>(?: [a-z]+=[^ >]*)*) -->')


@dataclasses.dataclass(frozen=True)
class Marker:
    fingerprint: str | None  # None for the summary
    attrs: dict[str, str]

    @property
    def is_summary(self) -> bool:
        return self.fingerprint is None

    @property
    def resolved(self) -> bool:
        return self.attrs.get('state') == 'resolved'

    @property
    def summary_fingerprints(self) -> set[str]:
        return {fp for fp in self.attrs.get('fps', '').split(',') if re.fullmatch(_FP, fp)}


def _check_fp(fp: str) -> str:
    if not re.fullmatch(_FP, fp):
        raise ValueError(f'not a fingerprint: {fp!r}')
    return fp


def finding_marker(fp: str, resolved: bool = False) -> str:
    state = ' state=resolved' if resolved else ''
    return f'<!-- reviewbot:fp={_check_fp(fp)}{state} -->'


def summary_marker(fingerprints: list[str] | set[str]) -> str:
    fps = ','.join(sorted(_check_fp(fp) for fp in fingerprints))
    return f'<!-- reviewbot:summary fps={fps} -->'


def parse_marker(body: str | None) -> Marker | None:
    """The marker on the first line of a comment body, or None if the comment is not reviewbot's."""
    first = (body or '').split('\n', 1)[0].strip()
    m = _MARKER.fullmatch(first)
    if not m:
        return None
    attrs = dict(a.split('=', 1) for a in m.group('attrs').split())
    return Marker(m.group('fp'), attrs)


def strip_marker(body: str) -> str:
    """The body without its marker line."""
    if parse_marker(body) is None:
        return body
    return body.split('\n', 1)[1] if '\n' in body else ''
