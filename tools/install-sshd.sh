#!/bin/bash
# Install the OpenSSH server the functional tests start (tests/fixtures/sshd.py).
#
# Debian's `openssh-server` brings /usr/sbin/sshd; `openssh-client` brings
# ssh-keygen, which makes the tests' host and client keys.
# Idempotent: when both are there it prints one line and exits. It never
# starts a server or a service: the tests start their own throwaway servers
# (`sshd -D -f <their config>` on a free port of 127.0.0.1).
set -euo pipefail

SSHD=/usr/sbin/sshd

installed() {
    [ -x "$SSHD" ] && command -v ssh-keygen >/dev/null 2>&1
}

if installed; then
    echo "sshd: already installed ($SSHD)"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=(env)
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo env)
else
    echo "install-sshd: must run as root (or with sudo) to apt-get" \
         "install openssh-server; neither is available." >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-sshd: apt-get not found; install OpenSSH so that $SSHD" \
         "and ssh-keygen exist." >&2
    exit 1
fi

echo "sshd: installing the Debian package (apt-get)"
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -qq
# No recommends: the daemon alone runs a test server. Where there is no
# init system, the package's attempt to start its service fails harmlessly.
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends openssh-server \
    openssh-client >/dev/null

if ! installed; then
    echo "install-sshd: installed the package but $SSHD or ssh-keygen is" \
         "still missing." >&2
    exit 1
fi
echo "sshd: installed ($SSHD)"
