#!/usr/bin/env bash
# Install Debian's Chromium builds; a no-op when they are already there. The browser tests drive
# chromium-headless-shell (the same Blink at about half the CPU of the full browser, and what
# Playwright itself uses headless); the benchmark times page loads in the full browser a person uses.
# Each package installs /usr/bin/<its name>. Only root can install; anyone else gets a hint and the
# tests skip (or fail when CI=true).
set -euo pipefail

missing=()
for package in chromium chromium-headless-shell; do
    [ -x "/usr/bin/$package" ] || missing+=("$package")
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
for package in "${missing[@]}"; do
    test -x "/usr/bin/$package"
done
