"""The ordinary-bug rules of the patterns reviewer (reviewbot/data/patterns/bugs.yaml).

Every rule has a buggy sample, flagged on the line marked `BUG`, and a correct near-twin that is
not flagged. All samples go through the real reviewer in ONE review (one semgrep run), and one
end-to-end test plants an off-by-one in a real repository and runs `reviewbot review`.
"""
from __future__ import annotations

import json
import textwrap

import pytest
import yaml

from reviewbot import pipeline
from reviewbot.config import defaults
from reviewbot.core import Finding
from reviewbot.reviewers.patterns import RULES_DIR, PatternsReviewer, locate
from reviewbot.sources import staged
from tests.conftest import GitRepo, run_cli

needs_semgrep = pytest.mark.skipif(locate().path is None, reason=locate().problem)

BUG_RULES = {r['id'] for r in yaml.safe_load((RULES_DIR / 'bugs.yaml').read_text())['rules']}

# rule id -> (file suffix, buggy sample with `BUG` on the line to flag, correct sample)
SAMPLES: dict[str, tuple[str, str, str]] = {
    'py-range-past-end-index': ('.py', '''
        def total(prices):
            s = 0
            for i in range(1, len(prices) + 1):  # BUG
                s += prices[i]
            return s
        ''', '''
        def total(prices):
            s = 0
            for i in range(1, len(prices) + 1):
                s += prices[i - 1]
            for i in range(len(prices) + 1):
                print(prices[:i])
            return s
        '''),
    'py-while-past-end-index': ('.py', '''
        def show(rows):
            i = 0
            while i <= len(rows):  # BUG
                print(rows[i])
                i += 1
        ''', '''
        def show(rows):
            i = 0
            while i < len(rows):
                print(rows[i])
                i += 1
        '''),
    'py-index-at-len': ('.py', '''
        def last(stack):
            return stack[len(stack)]  # BUG
        ''', '''
        def last(stack):
            return stack[len(stack) - 1]


        def register(table, value):
            table[len(table)] = value
        '''),
    'py-index-next-past-end': ('.py', '''
        def gaps(times):
            out = []
            for i in range(len(times)):  # BUG
                out.append(times[i + 1] - times[i])
            return out
        ''', '''
        def gaps(times):
            out = []
            for i in range(len(times) - 1):
                out.append(times[i + 1] - times[i])
            for i in range(len(times)):
                if i + 1 < len(times):
                    out.append(times[i + 1])
            return out
        '''),
    'py-length-guard-off-by-one': ('.py', '''
        def pick(options, n):
            if n > len(options):  # BUG
                raise IndexError(n)
            return options[n]
        ''', '''
        def pick(options, n):
            if n >= len(options):
                raise IndexError(n)
            return options[n]
        '''),
    'py-len-compared-below-zero': ('.py', '''
        def empty(queue):
            return len(queue) < 0  # BUG
        ''', '''
        def empty(queue):
            return len(queue) <= 0
        '''),
    'js-loop-past-end-index': ('.js', '''
        export function chunk(items, size) {
          const out = [];
          for (let i = 0; i <= items.length; i++) {  // BUG
            out.push(items[i]);
          }
          return out;
        }
        ''', '''
        export function chunk(items, size) {
          const out = [];
          for (let i = 0; i < items.length; i++) {
            out.push(items[i]);
          }
          for (let i = 0; i <= items.length; i++) {
            out.push(items.slice(0, i));
          }
          return out;
        }
        '''),
    'js-index-at-length': ('.ts', '''
        export function last(xs: number[]): number {
          return xs[xs.length];  // BUG
        }
        ''', '''
        export function last(xs: number[]): number {
          xs[xs.length] = 0;
          return xs[xs.length - 1];
        }
        '''),
    'js-or-string-literal-always-true': ('.ts', '''
        export function canDelete(role: string): boolean {
          if (role === "admin" || "owner") {  // BUG
            return true;
          }
          return false;
        }
        ''', '''
        export function canDelete(role: string): boolean {
          if (role === "admin" || role === "owner") {
            return true;
          }
          const shown = role || "guest";
          return shown === "x";
        }
        '''),
    'java-string-reference-equality': ('.java', '''
        class Roles {
          static boolean isAdmin(String role) {
            String r = role.trim();
            return r == "admin";  // BUG
          }
        }
        ''', '''
        class Roles {
          static boolean isAdmin(String role) {
            String r = role.trim();
            return "admin".equals(r) || r == null;
          }
        }
        '''),
    'java-loop-past-end-index': ('.java', '''
        class Sum {
          static int sum(int[] xs) {
            int t = 0;
            for (int i = 0; i <= xs.length; i++) {  // BUG
              t += xs[i];
            }
            return t;
          }
        }
        ''', '''
        class Sum {
          static int sum(int[] xs) {
            int t = 0;
            for (int i = 0; i < xs.length; i++) {
              t += xs[i];
            }
            return t;
          }
        }
        '''),
    'go-loop-past-end-index': ('.go', '''
        package stats

        func Sum(xs []int) int {
        	t := 0
        	for i := 0; i <= len(xs); i++ { // BUG
        		t += xs[i]
        	}
        	return t
        }
        ''', '''
        package stats

        func Sum(xs []int) int {
        	t := 0
        	for i := 0; i < len(xs); i++ {
        		t += xs[i]
        	}
        	return t
        }
        '''),
    'go-index-at-len': ('.go', '''
        package stats

        func Last(xs []int) int {
        	return xs[len(xs)] // BUG
        }
        ''', '''
        package stats

        func Last(xs []int) int {
        	return xs[len(xs)-1]
        }
        '''),
    'c-loop-past-end-of-array': ('.c', '''
        #include <stddef.h>

        void upper_copy(char *dst, size_t dst_len, const char *src)
        {
            size_t i;
            for (i = 0; i <= dst_len && src[i] != '\\0'; i++)  /* BUG */
                dst[i] = src[i];
            dst[i] = '\\0';
        }
        ''', '''
        #include <stddef.h>

        void upper_copy(char *dst, size_t dst_len, const char *src)
        {
            size_t i;
            if (dst_len == 0)
                return;
            for (i = 0; i + 1 < dst_len && src[i] != '\\0'; i++)
                dst[i] = src[i];
            dst[i] = '\\0';
        }
        '''),
    'c-index-at-array-size': ('.c', '''
        #define NAME_MAX 32

        void clear(void)
        {
            char name[NAME_MAX];
            name[NAME_MAX] = '\\0';  /* BUG */
        }
        ''', '''
        #define NAME_MAX 32

        void clear(void)
        {
            char name[NAME_MAX];
            name[NAME_MAX - 1] = '\\0';
        }
        '''),
    'c-malloc-strlen-without-terminator': ('.c', '''
        #include <stdlib.h>
        #include <string.h>

        char *dup(const char *s)
        {
            char *d = malloc(strlen(s));  /* BUG */
            strcpy(d, s);
            return d;
        }
        ''', '''
        #include <stdlib.h>
        #include <string.h>

        char *dup(const char *s)
        {
            char *d = malloc(strlen(s) + 1);
            strcpy(d, s);
            return d;
        }
        '''),
    'py-remove-while-iterating': ('.py', '''
        def drop_negative(items):
            for x in items:  # BUG
                if x < 0:
                    items.remove(x)
        ''', '''
        def drop_negative(items):
            for x in list(items):
                if x < 0:
                    items.remove(x)
            for x in items:
                if x == 0:
                    items.remove(x)
                    break
        '''),
    'py-delete-while-iterating-by-index': ('.py', '''
        def drop_negative(items):
            for i in range(len(items)):  # BUG
                if items[i] < 0:
                    del items[i]
        ''', '''
        def drop_negative(items):
            for i in reversed(range(len(items))):
                if items[i] < 0:
                    del items[i]
        '''),
    'js-typeof-invalid-string': ('.js', '''
        export function isMissing(x) {
          return typeof x === "undefiend";  // BUG
        }
        ''', '''
        export function isMissing(x, kind) {
          return typeof x === "undefined" || typeof x === kind;
        }
        '''),
    'js-compare-with-nan': ('.ts', '''
        export function bad(x: number): boolean {
          return x === NaN;  // BUG
        }
        ''', '''
        export function bad(x: number): boolean {
          return Number.isNaN(x);
        }
        '''),
    'js-length-compared-below-zero': ('.js', '''
        export function isEmpty(xs) {
          return xs.length < 0;  // BUG
        }
        ''', '''
        export function isEmpty(xs) {
          return xs.length <= 0;
        }
        '''),
    'java-size-compared-below-zero': ('.java', '''
        import java.util.List;
        class Q {
          static boolean empty(List<String> xs) {
            return xs.size() < 0;  // BUG
          }
        }
        ''', '''
        import java.util.List;
        class Q {
          static boolean empty(List<String> xs) {
            return xs.size() <= 0;
          }
        }
        '''),
    'go-len-compared-below-zero': ('.go', '''
        package q

        func Empty(xs []string) bool {
        	return len(xs) < 0 // BUG
        }
        ''', '''
        package q

        func Empty(xs []string) bool {
        	return len(xs) <= 0
        }
        '''),
    'c-sizeof-pointer-parameter': ('.c', '''
        #include <string.h>

        void wipe(char *secret)
        {
            memset(secret, 0, sizeof(secret));  /* BUG */
        }
        ''', '''
        #include <string.h>

        struct key { char bytes[32]; };

        void wipe(char *secret, size_t len, struct key *k)
        {
            char local[16];
            memset(secret, 0, len);
            memset(local, 0, sizeof(local));
            memset(k, 0, sizeof(*k));
        }
        '''),
    'go-http-response-body-not-closed': ('.go', '''
        package client

        import "net/http"

        func Up(c *http.Client, base string) (bool, error) {
        	resp, err := c.Get(base + "/healthz") // BUG
        	if err != nil {
        		return false, err
        	}
        	return resp.StatusCode == http.StatusOK, nil
        }
        ''', '''
        package client

        import "net/http"

        func Up(c *http.Client, base string) (bool, error) {
        	resp, err := c.Get(base + "/healthz")
        	if err != nil {
        		return false, err
        	}
        	defer resp.Body.Close()
        	return resp.StatusCode == http.StatusOK, nil
        }

        func Open(c *http.Client, base string) (*http.Response, error) {
        	resp, err := c.Get(base)
        	if err != nil {
        		return nil, err
        	}
        	if resp.StatusCode != http.StatusOK {
        		resp.Body.Close()
        		return nil, err
        	}
        	return resp, nil
        }
        '''),
    'c-free-then-advance-in-loop': ('.c', '''
        #include <stdlib.h>

        struct node { int value; struct node *next; };

        void list_free(struct node *head)
        {
            for (struct node *n = head; n != NULL; n = n->next)  /* BUG */
                free(n);
        }
        ''', '''
        #include <stdlib.h>

        struct node { int value; struct node *next; };

        void list_free(struct node *head)
        {
            struct node *next;
            for (struct node *n = head; n != NULL; n = next) {
                next = n->next;
                free(n);
            }
        }
        '''),
}


def _text(sample: str) -> str:
    return textwrap.dedent(sample).lstrip('\n')


def _bug_line(sample: str) -> int:
    return next(i for i, ln in enumerate(_text(sample).splitlines(), 1) if 'BUG' in ln)


def _rule(f: Finding) -> str:
    return f.category.removeprefix('patterns/')


def test_every_rule_has_samples():
    assert set(SAMPLES) == BUG_RULES


@pytest.fixture(scope='module')
def sample_findings(tmp_path_factory) -> dict[str, list[Finding]]:
    """All samples staged as new files in one repository, reviewed once: findings by path."""
    repo = GitRepo(tmp_path_factory.mktemp('bugs') / 'repo')
    repo.write('README', 'samples\n')
    repo.commit('base')
    for rule, (suffix, bad, good) in SAMPLES.items():
        repo.write(f'bad/{rule}{suffix}', _text(bad))
        repo.write(f'good/{rule}{suffix}', _text(good))
    repo.git('add', '-A')
    cfg = defaults()
    report = pipeline.review(staged(repo.path), cfg, reviewers=[PatternsReviewer(cfg)])
    by_path: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_path.setdefault(f.path, []).append(f)
    return by_path


@needs_semgrep
@pytest.mark.parametrize('rule', sorted(SAMPLES))
def test_buggy_sample_flagged_on_its_line(sample_findings, rule: str):
    suffix, bad, _ = SAMPLES[rule]
    hits = [f for f in sample_findings.get(f'bad/{rule}{suffix}', []) if _rule(f) in BUG_RULES]
    assert [(_rule(f), f.line) for f in hits] == [(rule, _bug_line(bad))]
    assert hits[0].message and 'BUG' in hits[0].anchored_code


@needs_semgrep
@pytest.mark.parametrize('rule', sorted(SAMPLES))
def test_correct_sample_not_flagged(sample_findings, rule: str):
    suffix, _, _ = SAMPLES[rule]
    hits = [f for f in sample_findings.get(f'good/{rule}{suffix}', []) if _rule(f) in BUG_RULES]
    assert hits == []


MODULE = '''\
"""Sliding statistics over a list of readings."""


def deltas(readings):
    """Differences between consecutive readings."""
    out = []
    for i in range(len(readings) - 1):
        out.append(readings[i + 1] - readings[i])
    return out


def peak(readings):
    best = readings[0]
    for r in readings:
        best = max(best, r)
    return best
'''


@needs_semgrep
def test_review_flags_planted_off_by_one_and_not_a_clean_refactor(tmp_path):
    repo = GitRepo(tmp_path / 'repo')
    repo.write('stats.py', MODULE)
    repo.commit('stats module')
    planted = MODULE.replace('range(len(readings) - 1)', 'range(len(readings))')
    repo.write('stats.py', planted)
    repo.commit('deltas: include the last reading')

    def review() -> list[dict]:
        proc = run_cli('review', '--range', 'HEAD~1..HEAD', '--format', 'json',
                       '--reviewers', 'ruff,patterns', '--fail-level', 'none', cwd=repo.path)
        assert proc.returncode == 0, proc.stderr.decode()
        return json.loads(proc.stdout)['findings']

    findings = review()
    planted_line = next(i for i, ln in enumerate(planted.splitlines(), 1)
                        if 'for i in range(len(readings)):' in ln)
    assert planted_line == 7
    assert [(f['path'], f['line'], f['category']) for f in findings] == [
        ('stats.py', planted_line, 'patterns/py-index-next-past-end')]
    assert 'IndexError' in findings[0]['message']

    # a behaviour-preserving refactor of the correct version: nothing to say
    repo.write('stats.py', MODULE)
    repo.commit('revert')
    repo.write('stats.py', MODULE.replace(
        '    out = []\n    for i in range(len(readings) - 1):\n'
        '        out.append(readings[i + 1] - readings[i])\n    return out\n',
        '    return [b - a for a, b in zip(readings, readings[1:])]\n'))
    repo.commit('deltas: zip instead of indexes')
    assert review() == []


def test_or_with_a_string_constant_flagged_by_ruff(tmp_path):
    """Python's `x == "a" or "b"` is ruff's SIM222 (enabled in the ruff reviewer), not a pattern."""
    repo = GitRepo(tmp_path / 'repo')
    repo.write('roles.py', 'def can_delete(role):\n    return role == "admin"\n')
    repo.commit('base')
    repo.write('roles.py', 'def can_delete(role):\n    if role == "admin" or "owner":\n'
                           '        return True\n    name = role or "guest"\n    return name == "x"\n')
    repo.commit('owners too')
    proc = run_cli('review', '--range', 'HEAD~1..HEAD', '--format', 'json', '--reviewers', 'ruff',
                   '--fail-level', 'none', cwd=repo.path)
    assert proc.returncode == 0, proc.stderr.decode()
    findings = json.loads(proc.stdout)['findings']
    assert [(f['line'], f['category']) for f in findings] == [(2, 'ruff/SIM222')]


# An element-by-element transform of a (pointer, length) parameter that runs one step too far:
# the form the blind eval batch showed c-loop-past-end-of-array missing (it only saw writes).
TRANSFORM_BAD = '''
    #include <stddef.h>

    void to_upper(const char *src, size_t len, char *dst)
    {
        for (size_t i = 0; i <= len; i++)  /* BUG */
            dst[i] = (char)(src[i] & ~0x20);
    }
    '''
TRANSFORM_GOOD = '''
    #include <stddef.h>

    void to_upper(const char *src, size_t len, char *dst)
    {
        for (size_t i = 0; i < len; i++)
            dst[i] = (char)(src[i] & ~0x20);
    }

    int sum_to(const int *v, size_t n)
    {
        int s = 0;
        for (size_t i = 0; i <= n; i++)
            s += v[i];
        return s;
    }
    '''


@needs_semgrep
def test_loop_past_end_in_a_transform_of_a_length_parameter(tmp_path):
    repo = GitRepo(tmp_path / 'repo')
    repo.write('README', 'x\n')
    repo.commit('base')
    repo.write('bad/upper.c', _text(TRANSFORM_BAD))
    repo.write('good/upper.c', _text(TRANSFORM_GOOD))
    repo.git('add', '-A')
    cfg = defaults()
    report = pipeline.review(staged(repo.path), cfg, reviewers=[PatternsReviewer(cfg)])
    hits = [(f.path, _rule(f), f.line) for f in report.findings if _rule(f) in BUG_RULES]
    assert hits == [('bad/upper.c', 'c-loop-past-end-of-array', _bug_line(TRANSFORM_BAD))]
