"""Untrusted text cannot mention, link, inject HTML, hide content or escape its code fence."""
from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from reviewbot import textsafe
from reviewbot.publish.markers import finding_marker, parse_marker, summary_marker
from tests.publish.helpers import INJECTION, assert_inert, mentions, references


def test_prompt_injection_is_inert() -> None:
    out = textsafe.prose(INJECTION)
    assert_inert(out)
    assert 'evil.example' not in out  # every occurrence had a scheme or www.: all defanged
    assert 'Ignore previous instructions' in out  # shown, as text
    assert parse_marker(out) is None


@given(st.text(alphabet=st.characters(codec='utf-8'), max_size=300)
       | st.lists(st.sampled_from(['@', '<', '>', '`', '[', ']', '(', ')', 'https://', 'evil.example',
                                   '\n', ' ', 'a', '/', '!', '\\', '~', 'www.', '-->', '<!--', '#', '1',
                                   '%', '&', '$', 'GH-', '"']),
                  max_size=60).map(''.join))
@example('\\WWW.(')  # a URL right after a backslash: the escaped backslash leaves the span live
@example('A0://\\A0://&0')  # two code spans with an escaped backslash between them
def test_any_text_is_inert(text: str) -> None:
    assert_inert(textsafe.prose(text))


def test_references_are_defused_anywhere_in_a_line() -> None:
    out = textsafe.prose('fixes #1 and !7 in %milestone, ~bug &3 $4 GH-12 for @alice')
    assert not references(out) and not mentions(out)
    plain = 'fixes #1 and !7 in %milestone, ~bug &3 $4 GH-12 for @alice'
    assert out.replace(textsafe.ZWJ, '').replace('\\', '') == plain


def test_extended_references_and_commit_shas_are_split() -> None:
    raw = 'see [vulnerability:12], [feature_flag:3], *iteration:5, [contact:x] and 1a2b3c4d5e6f7a8b'
    out = textsafe.prose(raw)
    assert not references(out), references(out)
    assert out.replace(textsafe.ZWJ, '').replace('\\', '') == raw
    assert textsafe.prose('defaced 2024 fixed') == 'defaced 2024 fixed'  # words and numbers stay whole


def test_a_defanged_url_leaves_a_closing_parenthesis_outside_its_code_span() -> None:
    out = textsafe.prose('(see https://evil.example/a). and https://x.example/wiki/A_(b)')
    assert out == '\\(see `https[:]//evil[.]example/a`\\). and `https[:]//x[.]example/wiki/A_(b)`'


def test_length_limit() -> None:
    out = textsafe.prose('x' * 10000, limit=100)
    assert out.endswith(textsafe.TRUNCATED) and out.count('x') == 100 - len(textsafe.TRUNCATED)


@given(st.text(max_size=200))
def test_code_block_cannot_be_closed_by_its_content(content: str) -> None:
    block = textsafe.code_block(content, 'suggestion')
    fence = block.split('\n', 1)[0][:-len('suggestion')]
    inner = block[len(fence) + len('suggestion') + 1:-len(fence) - 1]
    assert set(fence) == {'`'} and len(fence) >= 3
    assert fence not in inner  # no line inside can close (or reopen) the block
    assert block.endswith('\n' + fence)


def test_code_block_rejects_a_hostile_language_tag() -> None:
    assert textsafe.code_block('x', 'js onload=alert(1)').startswith('```\n')


def test_code_span_holds_backticks() -> None:
    span = textsafe.code_span('a``b`')
    assert span.startswith('``` ') and span.endswith(' ```')


def test_markers_round_trip_and_only_on_the_first_line() -> None:
    fp = '0123456789abcdef'
    assert parse_marker(finding_marker(fp) + '\nbody').fingerprint == fp
    assert parse_marker(finding_marker(fp, resolved=True)).resolved
    assert parse_marker(summary_marker([fp])).summary_fingerprints == {fp}
    assert parse_marker('text\n' + finding_marker(fp)) is None
    assert parse_marker('> ' + finding_marker(fp)) is None
