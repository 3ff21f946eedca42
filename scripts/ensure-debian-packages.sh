#!/usr/bin/env bash
# Install the Debian packages groundseg's tests and demo run against, when missing.
# As root: apt-get installs them. Otherwise: print the exact command and stop.
set -euo pipefail

missing=()
for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [[ $(id -u) -ne 0 ]]; then
    echo "groundseg needs these Debian packages: ${missing[*]}" >&2
    echo "Install them with:" >&2
    echo "    sudo apt-get update && sudo ${cmd[*]}" >&2
    exit 1
fi

echo "Installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have empty package lists; a failed install is retried once after an update.
if ! "${cmd[@]}"; then
    apt-get update
    "${cmd[@]}"
fi
