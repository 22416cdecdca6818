#!/bin/bash
# Install the ZooKeeper the functional tests start (tests/fixtures/zookeeper.py).
#
# Debian's `zookeeper` package (3.8) brings /usr/share/java/zookeeper.jar and,
# through libzookeeper-java -> libslf4j-java, /usr/share/java/slf4j-simple.jar
# (the SLF4J binding the test server logs with); default-jre provides java.
# Idempotent: when all three are there it prints one line and exits. It never
# starts a server or a service: the tests start their own throwaway servers.
set -euo pipefail

JAR=/usr/share/java/zookeeper.jar
BINDING=/usr/share/java/slf4j-simple.jar

installed() {
    [ -f "$JAR" ] && [ -f "$BINDING" ] && command -v java >/dev/null 2>&1
}

if installed; then
    echo "zookeeper: already installed ($JAR, $BINDING)"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=(env)
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo env)
else
    echo "install-zookeeper: must run as root (or with sudo) to apt-get" \
         "install zookeeper; neither is available." >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-zookeeper: apt-get not found; install ZooKeeper 3.8 so" \
         "that $JAR and $BINDING exist, and java is on PATH." >&2
    exit 1
fi

echo "zookeeper: installing the Debian package (apt-get)"
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -qq
# No recommends: the daemon's extras are not needed to run a test server.
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends zookeeper libslf4j-java \
    >/dev/null

if ! installed; then
    echo "install-zookeeper: installed the package but $JAR, $BINDING or" \
         "java is still missing." >&2
    exit 1
fi
echo "zookeeper: installed ($JAR, $BINDING)"
