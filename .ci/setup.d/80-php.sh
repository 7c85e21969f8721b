#!/usr/bin/env bash
# php-cli for the Unraid webGUI settings page test (packaging/unraid): it
# renders the page's PHP and serves it with PHP's built-in web server, under
# a stand-in of the webGUI's globals and update.php.
set -euo pipefail
if ! command -v php >/dev/null; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends php-cli
fi
