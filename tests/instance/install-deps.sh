#!/bin/bash
# Installs what tests/instance needs from the distribution, only when it is missing:
# netplan.io (its `netplan generate` validates the YAML the on-instance script writes) and
# iproute2 (`ip netns`). Needs root and apt-get (Debian, Ubuntu; CI runs as root there);
# elsewhere it says why not and exits 1, and the tests that need the tools skip with that reason.
set -euo pipefail
missing=()
command -v netplan >/dev/null 2>&1 || [ -x /usr/sbin/netplan ] || missing+=(netplan.io)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "cannot install ${missing[*]}: not root (tests/instance/install-deps.sh)" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "cannot install ${missing[*]}: no apt-get on this machine (install them by hand)" >&2
	exit 1
fi
# Refresh the package lists once, only when apt knows no candidate for them yet.
for pkg in "${missing[@]}"; do
	policy="$(apt-cache policy "$pkg" 2>/dev/null || true)"
	if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
		apt-get update -qq
		break
	fi
done
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
