"""The model reviewer's prompt: a system prompt, one worked example each way, and the unit's view."""
from __future__ import annotations

from pathlib import Path

from reviewbot.config import Config
from reviewbot.reviewers.model.units import Unit

# Bump when the prompt, the triage question or the parser changes: it is part of every cache key.
PROMPT_VERSION = 'mr-6'
GUIDELINES_MAX_CHARS = 1500
PROMPT_OVERHEAD_CHARS = 1300  # system prompt, examples and instructions around the code

SYSTEM = ('You are a careful senior engineer reviewing a code change. You report only real defects '
          'in the added lines (marked +): code that will crash, compute a wrong result, leak a '
          'resource, or let an attacker in. You never comment on style, naming, comments, '
          'documentation, tests or formatting. Most changes have no defect; then you answer NONE.')

INSTRUCTIONS = ('Answer with one line per real defect, exactly in the form\n'
                'L<line number>: <bug or security>: <what goes wrong, in a few words>\n'
                'or the single word NONE when the added lines have no real defect.')

# One example each way, in a language and a problem unlike the usual eval cases, so that an echo
# of it is recognisable (see _ECHO_MESSAGES) rather than a plausible false finding.
_EXAMPLE_DEFECT_VIEW = '''File: lib/stats.rb (Ruby)
L31   def average(values)
L32 +   total = values.sum
L33 +   total / values.size
L34   end'''
_EXAMPLE_DEFECT_ANSWER = 'L33: bug: an empty list divides by zero'
_EXAMPLE_CLEAN_VIEW = '''File: lib/names.rb (Ruby)
L57   def full_name(user)
    -   user.first + " " + user.last
L58 +   [user.first, user.last].compact.join(" ")
L59   end'''
_EXAMPLE_CLEAN_ANSWER = 'NONE'
_ECHO_MESSAGES = ('empty list divides by zero',)
_ECHO_WORDS = frozenset({'empty', 'list', 'divides', 'zero'})

def unit_header(unit: Unit) -> str:
    return f'File: {unit.path} ({unit.lang})'


def review_messages(unit: Unit, guidelines: str = '') -> list[dict[str, str]]:
    system = SYSTEM
    if guidelines:
        system += '\n\nThe team\'s review guidelines:\n' + guidelines
    return [
        {'role': 'system', 'content': system},
        {'role': 'user', 'content': f'{_EXAMPLE_DEFECT_VIEW}\n\n{INSTRUCTIONS}'},
        {'role': 'assistant', 'content': _EXAMPLE_DEFECT_ANSWER},
        {'role': 'user', 'content': f'{_EXAMPLE_CLEAN_VIEW}\n\n{INSTRUCTIONS}'},
        {'role': 'assistant', 'content': _EXAMPLE_CLEAN_ANSWER},
        {'role': 'user', 'content': f'{unit_header(unit)}\n{unit.view}\n\n{INSTRUCTIONS}'},
    ]



def read_guidelines(config: Config, path: str, repo_root: Path | None) -> str:
    """The team's guidelines file (key `guidelines`), cut to GUIDELINES_MAX_CHARS; '' when none."""
    if not path:
        return ''
    from reviewbot import guidelines as guidelines_file
    from reviewbot.errors import ConfigError
    # the file goes into every prompt: in CI from the trusted base commit, never the work tree;
    # never through a symbolic link nor from the git directory (reviewbot.guidelines)
    files_from = getattr(config, 'files_from', None)
    if files_from == '':
        raise ConfigError(f'guidelines {path!r}: this CI run has no base commit to read it from '
                          '(the checked-out work tree is the code under review)')
    base = repo_root or (config.source.parent if config.source else Path.cwd())
    return guidelines_file.read(Path(base), path, files_from)[:GUIDELINES_MAX_CHARS]
