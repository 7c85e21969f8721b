#!/usr/bin/env bash
# Headless Chromium for the status page test (core/web), driven by chromedp.
set -euo pipefail
if ! command -v chromium >/dev/null; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi
