#!/bin/bash
# Installs what tests/instance needs from the distribution, only when it is missing:
# netplan.io (its `netplan generate` validates the YAML the on-instance script writes) and
# iproute2 (`ip netns`). Needs root and apt-get (Debian, Ubuntu; CI runs as root there);
# elsewhere it says why not and exits 1, and the tests that need the tools skip with that reason.
#
# With a directory argument it also unpacks NetworkManager's nmcli (packages network-manager
# and libnm0, downloaded, not installed: installing them would pull systemd and udev into
# the machine) there, for `nmcli --offline`, which reads the keyfiles the script writes with
# NetworkManager's own parser. That part needs no root.
set -euo pipefail
nmcli_dir="${1:-}"
missing=()
command -v netplan >/dev/null 2>&1 || [ -x /usr/sbin/netplan ] || missing+=(netplan.io)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
want_nmcli=false
if [ -n "$nmcli_dir" ] && [ ! -x "$nmcli_dir/usr/bin/nmcli" ] && command -v apt-get >/dev/null &&
	command -v dpkg >/dev/null; then
	want_nmcli=true
fi
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "cannot install ${missing[*]}: not root (tests/instance/install-deps.sh)" >&2
		exit 1
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "cannot install ${missing[*]}: no apt-get on this machine (install them by hand)" >&2
		exit 1
	fi
fi
# Refresh the package lists once, only when apt knows no candidate yet for what is wanted
# (a new machine starts with empty lists: the nmcli download needs them too).
wanted=("${missing[@]}")
if $want_nmcli; then wanted+=(network-manager); fi
for pkg in "${wanted[@]}"; do
	policy="$(apt-cache policy "$pkg" 2>/dev/null || true)"
	if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
		if [ "$(id -u)" = 0 ]; then apt-get update -qq; fi
		break
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if $want_nmcli; then
	work="$(mktemp -d)"
	trap 'rm -rf "$work"' EXIT
	if (cd "$work" && apt-get download -qq network-manager libnm0 2>/dev/null); then
		mkdir -p "$nmcli_dir"
		for deb in "$work"/*.deb; do dpkg -x "$deb" "$nmcli_dir"; done
	else
		echo "could not download network-manager and libnm0 for nmcli --offline" >&2
	fi
fi
