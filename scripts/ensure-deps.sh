#!/usr/bin/env bash
# Installs the C libraries crx links (libxxhash, libzstd, libcrypto) when pkg-config cannot find them.
# Debian/Ubuntu: apt-get (as root, or through sudo when available).
set -euo pipefail
missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists libxxhash 2>/dev/null || missing+=(libxxhash-dev)
pkg-config --exists libzstd 2>/dev/null || missing+=(libzstd-dev)
pkg-config --exists libcrypto 2>/dev/null || missing+=(libssl-dev)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "crx: installing ${missing[*]} (apt-get)…" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
