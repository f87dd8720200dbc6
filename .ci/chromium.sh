#!/usr/bin/env bash
# Installs Debian's `chromium` (headless browser) for the dashboard test of `derivpool-server`,
# then prints the line to evaluate:
#
#     export DERIVPOOL_CHROMIUM=/usr/bin/chromium
#
# Usage from .ci/run:  eval "$(bash .ci/chromium.sh)"
#
# Idempotent: a second run finds the package installed and prints the same line. It never fails
# the CI: when apt or root is unavailable it says why on stderr, prints nothing on stdout and
# exits 0, so that the dashboard test reports "skipped: chromium not found".
set -u

skip() {
    echo "chromium.sh: $*; the dashboard browser test will be skipped" >&2
    exit 0
}

find_chromium() {
    for c in chromium chromium-browser; do
        if command -v "$c" >/dev/null 2>&1; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

if ! find_chromium >/dev/null; then
    [ "$(id -u)" = 0 ] || skip "not root (cannot install chromium)"
    command -v apt-get >/dev/null 2>&1 || skip "apt-get not found"
    echo "chromium.sh: installing Debian's chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || skip "apt-get update failed"
    apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null 2>&1 \
        || skip "apt-get install chromium failed"
fi
BIN="$(find_chromium)" || skip "chromium is still not on PATH"
echo "chromium.sh: using $BIN ($("$BIN" --version 2>/dev/null | head -n 1))" >&2
echo "export DERIVPOOL_CHROMIUM=$BIN"
