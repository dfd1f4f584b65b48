#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests; a no-op when it is already there.
# Only root can install; anyone else gets a hint and the tests skip (or fail when CI=true).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: $CHROMIUM is missing; run as root: apt-get install -y chromium" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium
test -x "$CHROMIUM"
