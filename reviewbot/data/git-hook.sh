#!/bin/sh
# reviewbot git hook, for teams without the pre-commit framework.
# Installed as .git/hooks/pre-commit (reviews the index) and/or .git/hooks/pre-push (reviews the
# pushed commits) by `reviewbot install-hook [--pre-push]`, or copied there by hand.
# Skip it once: SKIP=reviewbot git commit ...   It never changes the work tree or the index.
# reviewbot-hook-marker: v1  (install-hook updates or removes only files carrying this line)
INSTALL_PYTHON=''

hook=$(basename "$0")
case "$hook" in
    pre-commit|pre-push) ;;
    *) echo "reviewbot: install this script as pre-commit or pre-push in the hooks directory, not as $hook" >&2
       exit 2 ;;
esac

# git gives a pre-push hook its refs on stdin: read them once, to hand them to both hooks below
if [ "$hook" = pre-push ]; then
    push_lines=$(cat)
fi

# the hook this one replaced (kept by `install-hook --force`) runs first, with the same input
legacy="$0.legacy"
if [ -x "$legacy" ]; then
    if [ "$hook" = pre-push ]; then
        printf '%s\n' "$push_lines" | "$legacy" "$@" || exit $?
    else
        "$legacy" "$@" || exit $?
    fi
fi

# SKIP=id1,id2 as the pre-commit framework reads it
skip=$(printf '%s' "${SKIP:-}" | tr -d ' \t')
case ",$skip," in
    *,reviewbot,*) echo "reviewbot: skipped (SKIP=reviewbot)" >&2; exit 0 ;;
esac

remote_name=${1:-}  # pre-push: git passes <remote name> <remote url>
if [ -n "$INSTALL_PYTHON" ] && [ -x "$INSTALL_PYTHON" ]; then
    set -- "$INSTALL_PYTHON" -m reviewbot hook
elif command -v reviewbot >/dev/null 2>&1; then
    set -- reviewbot hook
else
    echo "reviewbot: not found; install it (pip install reviewbot) or skip once with SKIP=reviewbot" >&2
    exit 1
fi

if [ "$hook" = pre-push ]; then
    printf '%s\n' "$push_lines" | "$@" --stage pre-push --push-lines --remote "$remote_name"
    exit $?
fi
exec "$@" --stage pre-commit
