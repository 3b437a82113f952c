#!/usr/bin/env bash
# Debian's chromium for the Playwright WebUI tests (no browser download from a CDN).
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then exit 0; fi
if [[ "$(id -u)" == "0" ]]; then SUDO=""; else SUDO="sudo"; fi
echo "[hearme] installing Debian chromium for the browser tests"
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
