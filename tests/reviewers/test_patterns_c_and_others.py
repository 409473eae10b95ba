"""The C/C++ memory-safety and integer rules, and the newer JS/Java/Go sink rules, through the real
`patterns` reviewer: every vulnerable snippet is flagged on its marked line, every safe twin is not.

All snippets are staged as new files of one repository and reviewed in ONE semgrep run (module
fixture), so the file stays fast however many cases it holds. A line the rule must flag ends with
the marker comment `BUG` (`/* BUG */` in C, `// BUG` elsewhere); a `safe` file must have no finding.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reviewbot import pipeline
from reviewbot.config import defaults
from reviewbot.core import Finding, Severity
from reviewbot.reviewers.patterns import PatternsReviewer, locate
from reviewbot.sources import staged
from tests.conftest import GitRepo

pytestmark = pytest.mark.skipif(locate().path is None, reason=locate().problem)

C_HEAD = '#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n'

# path -> (source, rule every BUG line must carry; None for a file that must stay clean)
CASES: dict[str, tuple[str, str | None]] = {
    # --- strcpy of a caller's string into a struct field -----------------------------------
    'c/strcpy_field.c': (C_HEAD + '''\
struct user { char name[32]; int id; };

void user_set_name(struct user *u, const char *name)
{
    strcpy(u->name, name); /* BUG */
}

void user_append(struct user *u, char *suffix)
{
    u->id = 1;
    strcat(u->name, suffix); /* BUG */
}
''', 'c-strcpy-parameter-into-struct-field'),
    'c/strcpy_field_safe.c': (C_HEAD + '''\
struct user { char name[32]; int id; };

void user_set_name(struct user *u, const char *name)
{
    snprintf(u->name, sizeof u->name, "%s", name);
}

int user_set_checked(struct user *u, const char *name)
{
    if (strlen(name) >= sizeof u->name)
        return -1;
    strcpy(u->name, name);
    return 0;
}

void user_set_len(struct user *u, const char *name)
{
    size_t n = strlen(name);
    if (n >= sizeof u->name) n = sizeof u->name - 1;
    strcpy(u->name, name);
}

void user_default(struct user *u)
{
    strcpy(u->name, "anonymous");
}

char *dup(const char *s)
{
    char *p = malloc(strlen(s) + 1);
    if (p == NULL) return NULL;
    strcpy(p, s);
    return p;
}
''', None),
    # --- allocation size from a product of run-time values -----------------------------------
    'c/alloc_mul.c': (C_HEAD + '''\
struct image { unsigned width, height; unsigned char *pixels; };

int image_alloc(struct image *img, unsigned width, unsigned height)
{
    int size = width * height * 4;
    img->pixels = malloc(size); /* BUG */
    return img->pixels ? 0 : -1;
}

void *grow(void *p, size_t count, size_t elem_size)
{
    return realloc(p, count * elem_size); /* BUG */
}

unsigned char *rows(struct image *img)
{
    return malloc(img->width * img->height); /* BUG */
}
''', 'c-alloc-size-unchecked-multiplication'),
    'c/alloc_mul_safe.c': (C_HEAD + '''\
#include <stdint.h>

int image_alloc(unsigned char **out, uint32_t width, uint32_t height)
{
    if (width == 0 || height == 0 || width > SIZE_MAX / 4 / height)
        return -1;
    size_t size = (size_t)width * height * 4;
    *out = malloc(size);
    return *out ? 0 : -1;
}

int *ints(size_t n)
{
    return malloc(n * sizeof(int));
}

double *matrix(size_t rows, size_t cols)
{
    return calloc(rows, cols * sizeof(double));
}

char *line(size_t len)
{
    return malloc(len + 1);
}

#define ROWS 16
#define COLS 8
char *table(void)
{
    return malloc(ROWS * COLS);
}

void *checked(size_t a, size_t b)
{
    size_t n;
    if (__builtin_mul_overflow(a, b, &n))
        return NULL;
    return malloc(a * b);
}
''', None),
    # --- use after free ------------------------------------------------------------------------
    'c/uaf.c': (C_HEAD + '''\
struct node { int value; struct node *next; };

void list_free(struct node *head)
{
    for (struct node *n = head; n != NULL; n = n->next) /* BUG */
        free(n);
}

int take(struct node *n)
{
    free(n);
    return n->value; /* BUG */
}

void clear(char *buf)
{
    free(buf);
    buf[0] = 0; /* BUG */
}
''', 'c-use-after-free'),
    'c/uaf_safe.c': (C_HEAD + '''\
struct node { int value; struct node *next; };

void list_free(struct node *head)
{
    struct node *n = head;
    while (n != NULL) {
        struct node *next = n->next;
        free(n);
        n = next;
    }
}

void reset(struct node *n)
{
    free(n->next);
    n->next = NULL;
    n->value = 0;
}

struct node *renew(struct node *n)
{
    free(n);
    n = malloc(sizeof *n);
    if (n != NULL)
        n->value = 0;
    return n;
}

int drop(struct node *n, int fail)
{
    if (fail) {
        free(n);
        return -1;
    }
    return n->value;
}
''', None),
    # --- double free ---------------------------------------------------------------------------
    'c/double_free.c': (C_HEAD + '''\
int parse(char *buf, int bad)
{
    if (bad) {
        free(buf);
    }
    free(buf);
    free(buf); /* BUG */
    return 0;
}
''', 'c-double-free'),
    'c/double_free_safe.c': (C_HEAD + '''\
void close_all(char *a, char *b)
{
    free(a);
    free(b);
}

void again(char *p)
{
    free(p);
    p = NULL;
    free(p);
}
''', None),
    # --- loops that write one past the end -----------------------------------------------------
    'c/off_by_one.c': (C_HEAD + '''\
void upper_copy(char *dst, size_t dst_len, const char *src)
{
    size_t i;
    for (i = 0; i <= dst_len && src[i] != '\\0'; i++) /* BUG */
        dst[i] = src[i];
}

void zero(void)
{
    int counts[16];
    for (int i = 0; i <= 16; i++) /* BUG */
        counts[i] = 0;
    printf("%d", counts[0]);
}
''', 'c-loop-writes-one-past-the-end'),
    'c/off_by_one_safe.c': (C_HEAD + '''\
void upper_copy(char *dst, size_t dst_len, const char *src)
{
    size_t i;
    for (i = 0; i + 1 < dst_len && src[i] != '\\0'; i++)
        dst[i] = src[i];
}

void fill(char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = 0;
}

int *prefix_sums(const int *v, int n)
{
    int *sums = malloc((n + 1) * sizeof *sums);
    if (sums == NULL) return NULL;
    sums[0] = 0;
    for (int i = 1; i <= n; i++)
        sums[i] = sums[i - 1] + v[i - 1];
    return sums;
}

void read_only(const int *v, size_t n, int *out)
{
    for (size_t i = 0; i <= n; i++)
        out[0] += v[i];
}
''', None),
    # --- scanf %s without a width --------------------------------------------------------------
    'c/scanf.c': (C_HEAD + '''\
int read_name(char *line)
{
    char name[32];
    int age;
    if (sscanf(line, "%d %s", &age, name) != 2) /* BUG */
        return -1;
    return scanf("%s", name); /* BUG */
}
''', 'c-scanf-unbounded-string'),
    'c/scanf_safe.c': (C_HEAD + '''\
int read_name(char *line)
{
    char name[32];
    int age;
    if (sscanf(line, "%d %31s", &age, name) != 2)
        return -1;
    return scanf("%d", &age);
}
''', None),
    # --- allocation used without a NULL check -------------------------------------------------
    'c/unchecked_alloc.c': (C_HEAD + '''\
struct config { int port; char host[64]; };

struct config *config_default(void)
{
    struct config *c = malloc(sizeof(struct config)); /* BUG */
    c->port = 8080;
    return c;
}

char *copy(const char *s, size_t n)
{
    char *p;
    p = malloc(n + 1); /* BUG */
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}
''', 'c-alloc-result-used-unchecked'),
    'c/unchecked_alloc_safe.c': (C_HEAD + '''\
struct config { int port; char host[64]; };

struct config *config_default(void)
{
    struct config *c = malloc(sizeof *c);
    if (c == NULL)
        return NULL;
    c->port = 8080;
    return c;
}

char *copy(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) p[n] = 0;
    if (p) memcpy(p, s, n);
    return p;
}
''', None),
    # --- Java: weak random for secrets ---------------------------------------------------------
    'java/src/ResetTokens.java': ('''\
package app;

import java.util.Base64;
import java.util.Random;

public final class ResetTokens {
    private static final Random RANDOM = new Random(); // BUG

    public static String newToken() {
        byte[] bytes = new byte[24];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().encodeToString(bytes);
    }

    static String sessionId() {
        return Long.toHexString(new Random().nextLong()); // BUG
    }
}
''', 'java-weak-random-for-secret'),
    'java/src/Dice.java': ('''\
package app;

import java.security.SecureRandom;
import java.util.Random;

public final class Dice {
    private static final Random RANDOM = new Random();
    private static final SecureRandom SECURE = new SecureRandom();

    static int roll() {
        return RANDOM.nextInt(6) + 1;
    }

    static String newToken() {
        byte[] bytes = new byte[24];
        SECURE.nextBytes(bytes);
        return java.util.HexFormat.of().formatHex(bytes);
    }

    static double jitter() {
        return Math.random() * 0.1;
    }
}
''', None),
    # --- Java: XXE ---------------------------------------------------------------------------
    'java/src/XmlUpload.java': ('''\
package app;

import javax.servlet.http.HttpServletRequest;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;

class XmlUpload {
    Document read(HttpServletRequest req) throws Exception {
        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance(); // BUG
        DocumentBuilder db = dbf.newDocumentBuilder();
        return db.parse(req.getInputStream());
    }
}
''', 'java-xxe-parser-on-network-input'),
    'java/src/XmlUploadSafe.java': ('''\
package app;

import java.io.File;
import javax.servlet.http.HttpServletRequest;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;

class XmlUploadSafe {
    Document read(HttpServletRequest req) throws Exception {
        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
        dbf.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        DocumentBuilder db = dbf.newDocumentBuilder();
        return db.parse(req.getInputStream());
    }

    Document config(File f) throws Exception {
        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
        return dbf.newDocumentBuilder().parse(f);
    }
}
''', None),
    # --- JavaScript / TypeScript: prototype pollution ----------------------------------------
    'js/merge.js': ('''\
"use strict";

function deepMerge(target, source) {
  for (const key of Object.keys(source)) { // BUG
    if (typeof source[key] === "object" && source[key] !== null) {
      if (!target[key]) target[key] = {};
      deepMerge(target[key], source[key]);
    } else {
      target[key] = source[key];
    }
  }
  return target;
}

module.exports = { deepMerge };
''', 'js-prototype-pollution-recursive-merge'),
    'js/merge.ts': ('''\
export function assignDeep(dst: any, src: any): any {
  for (const k in src) { // BUG
    if (isPlainObject(src[k])) {
      dst[k] = dst[k] || {};
      assignDeep(dst[k], src[k]);
    } else {
      dst[k] = src[k];
    }
  }
  return dst;
}
''', 'js-prototype-pollution-recursive-merge'),
    'js/extend.js': ('''\
function extend(target, obj) {
  Object.keys(obj).forEach(function (key) { // BUG
    var val = obj[key];
    if (typeof val === "object" && val !== null) {
      target[key] = target[key] || {};
      extend(target[key], val);
    } else {
      target[key] = val;
    }
  });
  return target;
}

module.exports = extend;
''', 'js-prototype-pollution-recursive-merge'),
    'js/merge_safe.js': ('''\
"use strict";

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

function deepMerge(target, source) {
  for (const key of Object.keys(source)) {
    if (FORBIDDEN.has(key)) continue;
    if (typeof source[key] === "object" && source[key] !== null) {
      if (!target[key]) target[key] = {};
      deepMerge(target[key], source[key]);
    } else {
      target[key] = source[key];
    }
  }
  return target;
}

function merge2(a, b) {
  for (const k in b) {
    if (k === "__proto__" || k === "constructor") return a;
    if (typeof b[k] === "object") merge2(a[k], b[k]); else a[k] = b[k];
  }
  return a;
}

function shallow(target, source) {
  for (const key of Object.keys(source)) target[key] = source[key];
  return target;
}

module.exports = { deepMerge, merge2, shallow };
''', None),
    # --- JavaScript: open redirect -------------------------------------------------------------
    'js/redirect.js': ('''\
const express = require("express");
const app = express();

app.get("/login/done", (req, res) => {
  res.redirect(req.query.next); // BUG
});

app.get("/out", (req, res) => {
  const target = req.query.url;
  res.redirect(302, target); // BUG
});
''', 'js-express-open-redirect'),
    'js/redirect_safe.js': ('''\
const express = require("express");
const app = express();

app.get("/login/done", (req, res) => {
  const next = req.query.next;
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//")) {
    return res.redirect("/");
  }
  res.redirect(next);
});

app.get("/users/:id", (req, res) => {
  res.redirect("/profiles/" + encodeURIComponent(req.params.id));
});
''', None),
    # --- Go: math/rand for secrets, request input into a file path ----------------------------
    'go/auth/tokens.go': ('''\
package auth

import (
	"encoding/hex"
	"math/rand"
)

func NewResetToken() string {
	b := make([]byte, 16)
	rand.Read(b) // BUG
	return hex.EncodeToString(b)
}

func backoffJitter() int {
	return rand.Intn(100)
}
''', 'go-weak-random-for-secret'),
    'go/auth/tokens_safe.go': ('''\
package auth

import (
	"crypto/rand"
	"encoding/hex"
)

func NewResetToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
''', None),
    'go/web/files.go': ('''\
package web

import (
	"net/http"
	"os"
	"path/filepath"
)

func Download(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	http.ServeFile(w, r, filepath.Join("/srv/files", name)) // BUG
}

func Raw(w http.ResponseWriter, r *http.Request) {
	p := filepath.Join("/srv/files", r.FormValue("name"))
	data, err := os.ReadFile(p) // BUG
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Write(data)
}
''', 'go-request-path-traversal'),
    'go/web/files_safe.go': ('''\
package web

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

const base = "/srv/files/"

func Download(w http.ResponseWriter, r *http.Request) {
	name := filepath.Base(r.URL.Query().Get("name"))
	http.ServeFile(w, r, filepath.Join(base, name))
}

func Raw(w http.ResponseWriter, r *http.Request) {
	p := filepath.Join(base, filepath.Clean("/"+r.FormValue("name")))
	if !strings.HasPrefix(p, base) {
		http.NotFound(w, r)
		return
	}
	data, err := os.ReadFile(p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Write(data)
}
''', None),
}


_BUG_RULES = {r['id'] for r in yaml.safe_load(
    (Path(__file__).resolve().parents[2] / 'reviewbot' / 'data' / 'patterns' / 'bugs.yaml').read_text())['rules']}


def _marked_lines(text: str) -> list[int]:
    return [i for i, ln in enumerate(text.splitlines(), 1) if ln.rstrip().endswith(('/* BUG */', '// BUG'))]


@pytest.fixture(scope='module')
def findings_by_path(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Finding]]:
    repo = GitRepo(tmp_path_factory.mktemp('patterns-c') / 'repo')
    repo.write('README', 'cases\n')
    repo.commit('base')
    for path, (text, _rule) in CASES.items():
        repo.write(path, text)
    repo.git('add', '-A')
    cfg = defaults()
    report = pipeline.review(staged(repo.path), cfg, reviewers=[PatternsReviewer(cfg)])
    out: dict[str, list[Finding]] = {path: [] for path in CASES}
    for f in report.findings:
        out.setdefault(f.path, []).append(f)
    return out


def test_every_case_has_a_twin_and_markers():
    flagged = [p for p, (_, rule) in CASES.items() if rule]
    assert all(_marked_lines(CASES[p][0]) for p in flagged)
    assert all(not _marked_lines(text) for text, rule in CASES.values() if rule is None)
    rules = {rule for _, rule in CASES.values() if rule}
    assert len(rules) == 13


@pytest.mark.parametrize('path', sorted(p for p, (_, rule) in CASES.items() if rule))
def test_vulnerable_snippet_flagged_on_marked_lines(findings_by_path: dict[str, list[Finding]], path: str):
    text, rule = CASES[path]
    # the ordinary-bug rules (bugs.yaml, tested in test_patterns_bugs.py) may flag the same line
    found = [f for f in findings_by_path[path] if f.category.removeprefix('patterns/') not in _BUG_RULES]
    assert sorted(f.line or 0 for f in found) == _marked_lines(text), [(f.line, f.category) for f in found]
    assert {f.category for f in found} == {f'patterns/{rule}'}
    for f in found:
        assert f.reviewer == 'patterns'
        assert 'CWE-' in f.message
        assert f.severity in (Severity.ERROR, Severity.WARNING)


@pytest.mark.parametrize('path', sorted(p for p, (_, rule) in CASES.items() if rule is None))
def test_safe_twin_not_flagged(findings_by_path: dict[str, list[Finding]], path: str):
    assert findings_by_path[path] == []


def test_unchecked_allocation_is_a_warning_not_an_error(findings_by_path: dict[str, list[Finding]]):
    assert {f.severity for f in findings_by_path['c/unchecked_alloc.c']} == {Severity.WARNING}
    assert {f.severity for f in findings_by_path['c/uaf.c']} == {Severity.ERROR}


def test_rule_files_name_every_tested_rule():
    from reviewbot.reviewers.patterns import rule_files
    text = '\n'.join(Path(p).read_text() for p in rule_files())
    for _, rule in CASES.values():
        if rule:
            assert f'- id: {rule}\n' in text


# --- forms the blind eval batch showed the rules missing (one vulnerable + one safe per rule) ---
# Written for the class, not copied from the eval cases: each vulnerable file carries `BUG` marks.
GENERALISED: dict[str, tuple[str, str | None]] = {
    'gen/c/goto_double_free.c': (C_HEAD + '''\
int load(const char *path)
{
    char *buf = malloc(4096);
    FILE *fp = fopen(path, "r");
    int rc = -1;

    if (fp == NULL) {
        free(buf); /* BUG */
        goto fail;
    }
    rc = (int)fread(buf, 1, 4096, fp);
    fclose(fp);
fail:
    free(buf);
    return rc;
}
''', 'c-double-free'),
    'gen/c/goto_double_free_safe.c': (C_HEAD + '''\
int load(const char *path)
{
    char *buf = malloc(4096);
    FILE *fp = fopen(path, "r");
    int rc = -1;

    if (fp == NULL) {
        free(buf);
        buf = NULL;
        goto fail;
    }
    rc = (int)fread(buf, 1, 4096, fp);
    fclose(fp);
fail:
    free(buf);
    return rc;
}
''', None),
    'gen/c/destructor_uaf.c': (C_HEAD + '''\
struct session { int fd; char *user; };
void session_destroy(struct session *s);

int session_fail(struct session *s)
{
    session_destroy(s);
    fprintf(stderr, "closing %d\\n", s->fd); /* BUG */
    return -1;
}
''', 'c-use-after-free'),
    'gen/c/destructor_uaf_safe.c': (C_HEAD + '''\
struct session { int fd; char *user; };
void session_destroy(struct session *s);
void session_unref(struct session *s);

int session_fail(struct session *s)
{
    fprintf(stderr, "closing %d\\n", s->fd);
    session_destroy(s);
    return -1;
}

int session_drop(struct session *s)
{
    session_unref(s);
    return s->fd;
}
''', None),
    'gen/c/signed_len.c': (C_HEAD + '''\
#define MAX_PAYLOAD 512

int copy_payload(char *dst, const unsigned char *hdr, const char *src)
{
    int n = (int)((unsigned)hdr[0] << 24 | (unsigned)hdr[1] << 16 | hdr[2] << 8 | hdr[3]);

    if (n > MAX_PAYLOAD)
        return -1;
    memcpy(dst, src, n); /* BUG */
    return n;
}
''', 'c-signed-length-only-upper-bound-checked'),
    'gen/c/signed_len_safe.c': (C_HEAD + '''\
#define MAX_PAYLOAD 512

int copy_payload(char *dst, const unsigned char *hdr, const char *src)
{
    int n = (int)((unsigned)hdr[0] << 24 | (unsigned)hdr[1] << 16 | hdr[2] << 8 | hdr[3]);

    if (n < 0 || n > MAX_PAYLOAD)
        return -1;
    memcpy(dst, src, n);
    return n;
}

int copy_name(char *dst, const char *src)
{
    int n = strlen(src);
    if (n >= MAX_PAYLOAD)
        return -1;
    memcpy(dst, src, n);
    return n;
}
''', None),
    'gen/c/field_copy.c': (C_HEAD + '''\
#include <arpa/inet.h>
#include <stdint.h>

struct login { char user[32]; uint32_t flags; };

int read_login(const uint8_t *msg, size_t msg_len, struct login *out)
{
    uint16_t n = ntohs(*(const uint16_t *)msg);

    if (2 + (size_t)n > msg_len)
        return -1;
    memcpy(out->user, msg + 2, n); /* BUG */
    return 0;
}
''', 'c-memcpy-input-length-into-field'),
    'gen/c/field_copy_safe.c': (C_HEAD + '''\
#include <arpa/inet.h>
#include <stdint.h>

struct login { char user[32]; uint32_t flags; };

int read_login(const uint8_t *msg, size_t msg_len, struct login *out)
{
    uint16_t n = ntohs(*(const uint16_t *)msg);

    if (2 + (size_t)n > msg_len || n >= sizeof(out->user))
        return -1;
    memcpy(out->user, msg + 2, n);
    out->user[n] = '\\0';
    return 0;
}
''', None),
    'gen/go/method_handler.go': ('''\
package files

import (
	"net/http"
	"os"
	"path/filepath"
)

type Files struct{ Dir string }

func (f Files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, err := os.ReadFile(filepath.Join(f.Dir, r.URL.Path)) // BUG
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Write(data)
}
''', 'go-request-path-traversal'),
    'gen/go/method_handler_safe.go': ('''\
package files

import (
	"net/http"
	"os"
	"path"
	"path/filepath"
)

type Files struct{ Dir string }

func (f Files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, err := os.ReadFile(filepath.Join(f.Dir, filepath.FromSlash(path.Clean("/"+r.URL.Path))))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Write(data)
}
''', None),
    'gen/java/XmlUpload.java': ('''\
import java.io.Reader;
import javax.xml.parsers.SAXParser;
import javax.xml.parsers.SAXParserFactory;
import org.xml.sax.InputSource;
import org.xml.sax.helpers.DefaultHandler;

class XmlUpload {
    void load(Reader body, DefaultHandler h) throws Exception {
        SAXParserFactory spf = SAXParserFactory.newInstance(); // BUG
        SAXParser p = spf.newSAXParser();
        p.parse(new InputSource(body), h);
    }
}
''', 'java-xxe-parser-on-network-input'),
    'gen/java/XmlUploadSafe.java': ('''\
import java.io.Reader;
import javax.xml.parsers.SAXParser;
import javax.xml.parsers.SAXParserFactory;
import org.xml.sax.InputSource;
import org.xml.sax.helpers.DefaultHandler;

class XmlUploadSafe {
    void load(Reader body, DefaultHandler h) throws Exception {
        SAXParserFactory spf = SAXParserFactory.newInstance();
        spf.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        SAXParser p = spf.newSAXParser();
        p.parse(new InputSource(body), h);
    }

    void bundled(DefaultHandler h) throws Exception {
        SAXParserFactory spf = SAXParserFactory.newInstance();
        SAXParser p = spf.newSAXParser();
        p.parse(new java.io.File("/etc/app/defaults.xml"), h);
    }
}
''', None),
    'gen/java/Avatars.java': ('''\
import java.io.File;
import java.nio.file.Files;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;

class Avatars {
    private final File root = new File("/srv/avatars");

    @GetMapping("/avatars/{name}")
    byte[] get(@PathVariable("name") String name) throws Exception {
        return Files.readAllBytes(new File(root, name).toPath()); // BUG
    }
}
''', 'java-request-path-traversal'),
    'gen/java/AvatarsSafe.java': ('''\
import java.nio.file.Files;
import java.nio.file.Path;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;

class AvatarsSafe {
    private final Path root = Path.of("/srv/avatars");

    @GetMapping("/avatars/{name}")
    byte[] get(@PathVariable("name") String name) throws Exception {
        Path p = root.resolve(name).normalize();
        if (!p.startsWith(root)) {
            throw new IllegalArgumentException("bad name");
        }
        return Files.readAllBytes(p);
    }

    @GetMapping("/thumbs/{name}")
    byte[] thumb(@PathVariable String name) throws Exception {
        return Files.readAllBytes(root.resolve(Path.of(name).getFileName()));
    }
}
''', None),
    'gen/js/after_login.js': ('''\
const express = require('express');
const app = express();

app.get('/sso/done', (req, res) => {
  const next = req.session.redirectUrl;
  req.session.redirectUrl = null;
  res.redirect(next); // BUG
});
''', 'js-express-open-redirect-stored-target'),
    'gen/js/after_login_safe.js': ('''\
const express = require('express');
const app = express();

app.get('/sso/done', (req, res) => {
  const next = req.session.redirectUrl;
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//')) {
    return res.redirect('/');
  }
  res.redirect(next);
});

app.get('/home', (req, res) => {
  const lang = req.session.locale;
  res.redirect(lang);
});
''', None),
    'gen/ts/apiAuth.ts': ('''\
import * as jsonwebtoken from 'jsonwebtoken';

export function userId(authorization: string): string | undefined {
  const payload = jsonwebtoken.decode(authorization.replace('Bearer ', '')); // BUG
  return typeof payload === 'object' && payload ? String(payload.sub) : undefined;
}
''', 'js-jwt-decode-without-verify'),
    'gen/ts/apiAuthSafe.ts': ('''\
import * as jsonwebtoken from 'jsonwebtoken';

export function keyId(token: string): string | undefined {
  const full = jsonwebtoken.decode(token, { complete: true });
  return full?.header.kid;
}

export function userId(token: string, key: string): string | undefined {
  try {
    const payload = jsonwebtoken.verify(token, key, { algorithms: ['RS256'] });
    return typeof payload === 'object' ? String(payload.sub) : undefined;
  } catch {
    const seen = jsonwebtoken.decode(token);
    console.warn('rejected token', seen);
    return undefined;
  }
}
''', None),
}


@pytest.fixture(scope='module')
def generalised_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Finding]]:
    repo = GitRepo(tmp_path_factory.mktemp('patterns-gen') / 'repo')
    repo.write('README', 'cases\n')
    repo.commit('base')
    for path, (text, _rule) in GENERALISED.items():
        repo.write(path, text)
    repo.git('add', '-A')
    cfg = defaults()
    report = pipeline.review(staged(repo.path), cfg, reviewers=[PatternsReviewer(cfg)])
    out: dict[str, list[Finding]] = {path: [] for path in GENERALISED}
    for f in report.findings:
        out.setdefault(f.path, []).append(f)
    return out


@pytest.mark.parametrize('path', sorted(p for p, (_, rule) in GENERALISED.items() if rule))
def test_generalised_form_flagged_on_marked_line(generalised_findings: dict[str, list[Finding]], path: str):
    text, rule = GENERALISED[path]
    found = generalised_findings[path]
    assert sorted(f.line or 0 for f in found) == _marked_lines(text), [(f.line, f.category) for f in found]
    assert {f.category for f in found} == {f'patterns/{rule}'}


@pytest.mark.parametrize('path', sorted(p for p, (_, rule) in GENERALISED.items() if rule is None))
def test_generalised_safe_form_not_flagged(generalised_findings: dict[str, list[Finding]], path: str):
    assert generalised_findings[path] == [], [(f.line, f.category) for f in generalised_findings[path]]
