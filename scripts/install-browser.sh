#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver when either is missing: the e2e run's
# browser-approve scenario and `make screenshots` drive them (local/browser.py), and CI starts on
# a fresh machine. apt-get, with sudo unless root (sudo -n without a terminal: fail, never hang);
# one retry after apt-get update.
set -euo pipefail
packages=(chromium chromium-driver)
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi
if ! command -v apt-get >/dev/null; then
    echo "install-browser: chromium and chromedriver are missing and there is no apt-get here:" \
        "install Chromium and its ChromeDriver (Debian: ${packages[*]})" >&2
    exit 1
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install-browser: installing ${packages[*]} needs root, and sudo is missing" >&2; exit 1; }
    if [ -t 0 ]; then sudo=(sudo); else sudo=(sudo -n); fi
fi
install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}")
echo "install-browser: chromium or chromedriver missing: ${install[*]}"
if ! "${install[@]}"; then
    echo "install-browser: install failed; retrying after apt-get update" >&2
    if ! { "${sudo[@]}" apt-get update && "${install[@]}"; }; then
        echo "install-browser: could not install ${packages[*]} (see apt's output above)" >&2
        exit 1
    fi
fi
for exe in chromium chromedriver; do
    command -v "$exe" >/dev/null || { echo "install-browser: $exe still not on PATH after the install" >&2; exit 1; }
done
echo "install-browser: $(chromium --version 2>/dev/null); $(chromedriver --version 2>/dev/null)"
