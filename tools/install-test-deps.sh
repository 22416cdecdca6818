#!/bin/bash
# Install the real servers and tools the functional tests start themselves,
# from Debian's packages, in one apt-get run:
#
#   zookeeper   /usr/share/java/zookeeper.jar and, through libslf4j-java,
#               slf4j-simple.jar; java (tests/fixtures/zookeeper.py)
#   sshd        /usr/sbin/sshd and ssh-keygen (tests/fixtures/sshd.py)
#   chromium    chromium and chromedriver, which selenium drives
#               (tests/functional/report)
#
# Idempotent: what is there already is not installed again. It never starts
# a server or a service: the tests start their own throwaway ones on
# 127.0.0.1.
set -euo pipefail

zookeeper_ok() {
    [ -f /usr/share/java/zookeeper.jar ] &&
        [ -f /usr/share/java/slf4j-simple.jar ] &&
        command -v java >/dev/null 2>&1
}
sshd_ok() {
    [ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null 2>&1
}
chromium_ok() {
    command -v chromium >/dev/null 2>&1 &&
        command -v chromedriver >/dev/null 2>&1
}

declare -A PACKAGES=(
    [zookeeper]="zookeeper libslf4j-java"
    [sshd]="openssh-server openssh-client"
    [chromium]="chromium chromium-driver"
)

missing=()
for what in zookeeper sshd chromium; do
    if "${what}_ok"; then
        echo "$what: already installed"
    else
        missing+=("$what")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

packages=()
for what in "${missing[@]}"; do
    read -r -a more <<< "${PACKAGES[$what]}"
    packages+=("${more[@]}")
done

if [ "$(id -u)" -eq 0 ]; then
    as_root=(env)
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo env)
else
    echo "install-test-deps: must run as root (or with sudo) to apt-get" \
         "install ${packages[*]}; neither is available." >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: apt-get not found; install ${missing[*]}" \
         "(Debian packages ${packages[*]}) another way." >&2
    exit 1
fi

echo "installing the Debian packages ${packages[*]} (apt-get)"
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -qq
# No recommends: daemons' extras, fonts and desktop integration are not
# needed by test servers. Where there is no init system, a package's
# attempt to start its service fails harmlessly.
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

for what in "${missing[@]}"; do
    if ! "${what}_ok"; then
        echo "install-test-deps: installed ${PACKAGES[$what]} but $what is" \
             "still missing." >&2
        exit 1
    fi
    echo "$what: installed"
done
