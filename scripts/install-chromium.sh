#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (tests/browser): Playwright for Python
# drives it through executable_path, so `playwright install` (which downloads a browser
# build of its own) is never run. A no-op when a working Chromium is already there.
set -euo pipefail
chromium=${GATEKEEPER_CHROMIUM:-/usr/bin/chromium}
works() { [ -x "$chromium" ] && "$chromium" --version 2>/dev/null | grep -q '^Chromium '; }
if works; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-chromium.sh: Chromium is missing at $chromium; run as root (apt-get install chromium)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
if ! works; then
    echo "install-chromium.sh: apt-get installed chromium but $chromium --version does not answer" >&2
    exit 1
fi
