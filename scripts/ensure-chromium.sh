#!/usr/bin/env bash
# Install Debian's Chromium builds; a no-op when they are already there. The browser tests drive
# chromium-headless-shell (the same Blink at about half the CPU of the full browser, and what
# Playwright itself uses headless); the benchmark times page loads in the full browser a person uses.
# Only root can install; anyone else gets a hint and the tests skip (or fail when CI=true).
set -euo pipefail

PACKAGES=(chromium chromium-headless-shell)
BINARIES=(/usr/bin/chromium /usr/bin/chromium-headless-shell)

missing=()
for i in "${!PACKAGES[@]}"; do
    [ -x "${BINARIES[$i]}" ] || missing+=("${PACKAGES[$i]}")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: missing ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
for binary in "${BINARIES[@]}"; do
    test -x "$binary"
done
