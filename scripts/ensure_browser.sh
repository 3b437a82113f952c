#!/usr/bin/env bash
# Debian's chromium for the Playwright WebUI tests (no browser download from a CDN).
set -euo pipefail
if [[ "$(id -u)" == "0" ]]; then SUDO=""; else SUDO="sudo"; fi
if [[ ! -x /usr/bin/chromium ]]; then
  echo "[hearme] installing Debian chromium for the browser tests"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# Fonts for readable WebUI screenshots and data-card plots: Chinese, Tibetan, emoji (small packages).
installed_fonts="$(fc-list 2>/dev/null || true)"
fonts=()
grep -i "WenQuanYi\|Noto Sans CJK" <<<"$installed_fonts" >/dev/null || fonts+=(fonts-wqy-microhei)
grep -i "Tibetan Machine\|Noto Serif Tibetan" <<<"$installed_fonts" >/dev/null || fonts+=(fonts-tibetan-machine)
grep -i "Color Emoji" <<<"$installed_fonts" >/dev/null || fonts+=(fonts-noto-color-emoji)
if (( ${#fonts[@]} )); then
  echo "[hearme] installing fonts for the WebUI screenshots: ${fonts[*]}"
  $SUDO apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${fonts[@]}" >/dev/null || echo "[hearme] fonts not installed (screenshots may show boxes)"
fi
