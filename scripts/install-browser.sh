#!/usr/bin/env bash
# Install Debian's Chromium for the Playwright browser tests if it is missing.
# Playwright's own browser download does not work here; the tests launch /usr/bin/chromium.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then echo "chromium is missing and we are not root to install it" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
