#!/bin/bash
# Install the headless browser the report tests open pages in
# (tests/functional/report): Debian's `chromium` and `chromium-driver`
# (chromedriver, which selenium drives: no browser is downloaded at run time).
# Idempotent: when both are there it prints one line and exits.
set -euo pipefail

installed() {
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1
}

if installed; then
    echo "chromium: already installed ($(command -v chromium)," \
         "$(command -v chromedriver))"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=(env)
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo env)
else
    echo "install-chromium: must run as root (or with sudo) to apt-get" \
         "install chromium chromium-driver; neither is available." >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: apt-get not found; install Chromium and its" \
         "chromedriver so that both chromium and chromedriver are on PATH." >&2
    exit 1
fi

echo "chromium: installing the Debian packages (apt-get)"
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -qq
# No recommends: fonts and desktop integration are not needed headless.
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends chromium chromium-driver \
    >/dev/null

if ! installed; then
    echo "install-chromium: installed the packages but chromium or" \
         "chromedriver is still not on PATH." >&2
    exit 1
fi
echo "chromium: installed ($(command -v chromium), $(command -v chromedriver))"
