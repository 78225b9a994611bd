#!/bin/bash
# fixed-ip: configure and verify the pool ENI's fixed address in the OS of the instance.
#
# Run by the stack's SSM document (template.yaml, ConfigureDocument, which embeds this very
# text: `make document` copies it there, a test fails when the two differ). Parameters come as
# environment variables SSM_<Name> (agents >= 3.3.2746.0), or pasted by older agents; the
# document's allowedPattern checks them first and this script checks them again.
#
# What it does (docs/os-configuration.md has the full story):
#   1. finds the interface by MAC (eth1, ens6, enX1... names differ), waiting a bounded time
#      for the hot-plugged device to appear;
#   2. detects what manages the network on this instance: amazon-ec2-net-utils (it configures
#      hot-plugged ENIs with policy routing itself: wait and verify), netplan, NetworkManager,
#      systemd-networkd; anything else fails naming the distribution;
#   3. Mode=configure: writes a persistent configuration for that manager (address, a routing
#      table 1000+DeviceIndex with the subnet route and a default route via the subnet's
#      router, a rule "from <Address> lookup <table>") and applies the same live with `ip`,
#      idempotently, without touching the primary interface or the main table's default route;
#   4. sets the host name when one is given (hostnamectl or hostname + /etc/hostname; cloud-init
#      told to keep it; /etc/hosts maps it to the fixed address);
#   5. verifies, and prints as its LAST line:  FIXED_IP_RESULT {json}
#      The exit status is 0 when ok, 1 otherwise; the line is printed on every path.
#
# Test hooks (never set by the document): FIXED_IP_ROOT prefixes every file path (fixture
# trees), FIXED_IP_WAIT_SECONDS bounds the waits (default 25 s, inside the 30 s minimum of
# CommandTimeoutSeconds).
set -Eeuo pipefail
umask 022

# Older agents (no ENV_VAR interpolation) paste the values here instead.
if [ -z "${SSM_Address+x}" ]; then SSM_Address="{{ Address }}"; fi
if [ -z "${SSM_MacAddress+x}" ]; then SSM_MacAddress="{{ MacAddress }}"; fi
if [ -z "${SSM_SubnetCidr+x}" ]; then SSM_SubnetCidr="{{ SubnetCidr }}"; fi
if [ -z "${SSM_DeviceIndex+x}" ]; then SSM_DeviceIndex="{{ DeviceIndex }}"; fi
if [ -z "${SSM_HostName+x}" ]; then SSM_HostName="{{ HostName }}"; fi
if [ -z "${SSM_Mode+x}" ]; then SSM_Mode="{{ Mode }}"; fi
# Run by hand (not by the agent), the optional ones keep their placeholder: use the defaults.
if [ "${SSM_HostName:0:1}" = "{" ]; then SSM_HostName=""; fi
if [ "${SSM_Mode:0:1}" = "{" ]; then SSM_Mode=""; fi

ROOT="${FIXED_IP_ROOT:-}"
WAIT_SECONDS="${FIXED_IP_WAIT_SECONDS:-25}"
MANAGED_MARK="managed by fixed-ip"
# Services (hostnamectl, nmcli, networkctl, udevadm) are asked for only on a real instance:
# the real root (never a fixture tree) with systemd as PID 1. Decided before anything is
# written: `netplan generate` creates /run/systemd/system even where systemd does not run.
LIVE=false
if [ -z "$ROOT" ] && [ "$(cat /proc/1/comm 2>/dev/null || true)" = systemd ]; then LIVE=true; fi

# --- result ---------------------------------------------------------------------------------
R_MODE="configure"
R_MANAGER="unknown"
R_INTERFACE=""
R_ADDRESS="${SSM_Address}"
R_ADDRESS_PRESENT=false
R_RULE_PRESENT=false
R_TABLE_ROUTE_PRESENT=false
R_HOST_NAME=""
R_HOST_NAME_OK=null
R_PERSISTED=false
R_CHANGED=false
R_MESSAGE=""
PROBLEMS=()
RESULT_PRINTED=false

json_string() {
	# A JSON string literal: escape backslash and quote, drop control characters (messages
	# quote os-release and command output, which are not ours).
	local s="$1"
	s="${s//\\/\\\\}"
	s="${s//\"/\\\"}"
	s="$(printf '%s' "$s" | tr -d '\000-\037')"
	printf '"%s"' "$s"
}

json_or_null() {
	if [ -n "$1" ]; then json_string "$1"; else printf 'null'; fi
}

print_result() {
	local ok
	RESULT_PRINTED=true
	ok=false
	if [ "$R_MODE" = skip ] ||
		{ $R_ADDRESS_PRESENT && $R_RULE_PRESENT && $R_TABLE_ROUTE_PRESENT; }; then
		ok=true
	fi
	if [ "$R_HOST_NAME_OK" = false ]; then ok=false; fi
	if [ ${#PROBLEMS[@]} -gt 0 ]; then
		ok=false
		R_MESSAGE="$(printf '%s; ' "${PROBLEMS[@]}")"
		R_MESSAGE="${R_MESSAGE%; }"
	fi
	printf 'FIXED_IP_RESULT {"ok": %s, "mode": %s, "manager": %s, "interface": %s, ' \
		"$ok" "$(json_string "$R_MODE")" "$(json_string "$R_MANAGER")" \
		"$(json_or_null "$R_INTERFACE")"
	printf '"address": %s, "address_present": %s, "rule_present": %s, ' \
		"$(json_string "$R_ADDRESS")" "$R_ADDRESS_PRESENT" "$R_RULE_PRESENT"
	printf '"table_route_present": %s, "host_name": %s, "host_name_ok": %s, ' \
		"$R_TABLE_ROUTE_PRESENT" "$(json_or_null "$R_HOST_NAME")" "$R_HOST_NAME_OK"
	printf '"persisted": %s, "changed": %s, "message": %s}\n' \
		"$R_PERSISTED" "$R_CHANGED" "$(json_string "$R_MESSAGE")"
	$ok
}

# problem MESSAGE...: the words are joined with spaces (long messages span lines).
problem() {
	PROBLEMS+=("$*")
	echo "fixed-ip: $*" >&2
}

# Stop now: report what is known (ok false) and exit 1.
fail() {
	problem "$@"
	print_result || true
	exit 1
}

# shellcheck disable=SC2329  # invoked by the ERR trap
on_error() {
	# set -e stopped on an unexpected failure: say where, so the lifecycle log line names it.
	problem "unexpected error (exit $1) at line $2: $3"
}

# shellcheck disable=SC2329  # invoked by the EXIT trap
on_exit() {
	local status=$?
	if ! $RESULT_PRINTED; then
		if [ ${#PROBLEMS[@]} -eq 0 ]; then problem "stopped unexpectedly (exit $status)"; fi
		print_result || true
		exit 1
	fi
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR
trap on_exit EXIT

note() {
	echo "fixed-ip: $*"
}

# --- inputs ---------------------------------------------------------------------------------
OCTET='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
IPV4_RE="^${OCTET}\.${OCTET}\.${OCTET}\.${OCTET}$"

ip_to_int() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

int_to_ip() {
	local n=$1
	echo "$(((n >> 24) & 255)).$(((n >> 16) & 255)).$(((n >> 8) & 255)).$((n & 255))"
}

# The Python validator of the controller does the same checks before it sends the command;
# repeated here so that the script is safe on its own (it is also run by hand).
valid_host_name() {
	local name="$1" label last lower
	[ ${#name} -le 64 ] || return 1
	[[ "$name" =~ ^[A-Za-z0-9.-]+$ ]] || return 1
	lower="${name,,}"
	[ "$lower" != localhost ] || return 1
	local IFS=.
	# shellcheck disable=SC2206  # split on dots on purpose; the charset above has no globs
	local labels=($name)
	[ "${name: -1}" != . ] && [ "${name:0:1}" != . ] || return 1
	for label in "${labels[@]}"; do
		[[ "$label" =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]] || return 1
	done
	last="${labels[${#labels[@]} - 1]}"
	# An all-numeric last label (10.0.0.1, 2130706433, 127.1) is an address in disguise.
	[[ ! "$last" =~ ^[0-9]+$ ]] || return 1
	# So is a name made of 1 to 4 decimal or hex numbers (0x7f000001, 0x7f.1): inet_aton's
	# syntax, which resolvers take as an address.
	if [ ${#labels[@]} -le 4 ]; then
		local numeric=true
		for label in "${labels[@]}"; do
			[[ "$label" =~ ^(0[xX][0-9A-Fa-f]*|[0-9]+)$ ]] || numeric=false
		done
		! $numeric || return 1
	fi
	return 0
}

MODE="${SSM_Mode:-configure}"
case "$MODE" in
configure | verify | skip) R_MODE="$MODE" ;;
*) fail "Mode must be configure, verify or skip, got '${MODE:0:20}'" ;;
esac
ADDRESS="$SSM_Address"
MAC="${SSM_MacAddress,,}"
CIDR="$SSM_SubnetCidr"
DEVICE_INDEX="$SSM_DeviceIndex"
HOST_NAME="$SSM_HostName"
if [[ ! "$ADDRESS" =~ $IPV4_RE ]]; then
	R_ADDRESS="${ADDRESS:0:15}"
	fail "Address must be an IPv4 address like 10.0.0.4, got '${ADDRESS:0:20}'"
fi
if [[ ! "$MAC" =~ ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$ ]]; then
	fail "MacAddress must look like 0a:1b:2c:3d:4e:5f, got '${MAC:0:20}'"
fi
if [[ ! "$CIDR" =~ ^([0-9.]+)/(1[6-9]|2[0-8])$ ]] || [[ ! "${BASH_REMATCH[1]}" =~ $IPV4_RE ]]; then
	fail "SubnetCidr must be an IPv4 CIDR with a prefix of 16 to 28 like 10.0.0.0/24," \
		"got '${CIDR:0:20}'"
fi
NETWORK="${CIDR%/*}"
PREFIX="${CIDR#*/}"
MASK=$(((0xffffffff << (32 - PREFIX)) & 0xffffffff))
NETWORK_INT=$(ip_to_int "$NETWORK")
ADDRESS_INT=$(ip_to_int "$ADDRESS")
if [ $((NETWORK_INT & MASK)) -ne "$NETWORK_INT" ]; then
	fail "SubnetCidr $CIDR has host bits set" \
		"(the subnet is $(int_to_ip $((NETWORK_INT & MASK)))/$PREFIX)"
fi
if [ $((ADDRESS_INT & MASK)) -ne "$NETWORK_INT" ]; then
	fail "Address $ADDRESS is not inside SubnetCidr $CIDR"
fi
BROADCAST_INT=$((NETWORK_INT | (~MASK & 0xffffffff)))
# AWS reserves the first four and the last address of every subnet.
if [ "$ADDRESS_INT" -lt $((NETWORK_INT + 4)) ] || [ "$ADDRESS_INT" -eq "$BROADCAST_INT" ]; then
	fail "Address $ADDRESS is one of the addresses AWS reserves in $CIDR"
fi
# The VPC router is the first host of every subnet.
ROUTER="$(int_to_ip $((NETWORK_INT + 1)))"
if [[ ! "$DEVICE_INDEX" =~ ^([1-9]|[12][0-9]|3[01])$ ]]; then
	fail "DeviceIndex must be 1 to 31, got '${DEVICE_INDEX:0:20}'"
fi
# amazon-ec2-net-utils uses tables 10000+N: 1000+N never collides with it.
TABLE=$((1000 + DEVICE_INDEX))
PRIORITY=$TABLE
if [ -n "$HOST_NAME" ]; then
	R_HOST_NAME="${HOST_NAME:0:64}"
	if ! valid_host_name "$HOST_NAME"; then
		R_HOST_NAME=""
		fail "HostName is not a valid RFC 1123 host name (letters, digits, '-', '.'," \
			"at most 64 characters, not an address, not localhost)"
	fi
fi
if [[ ! "$WAIT_SECONDS" =~ ^[0-9]{1,3}$ ]]; then
	fail "FIXED_IP_WAIT_SECONDS must be a number of seconds, got '${WAIT_SECONDS:0:20}'"
fi
# SECONDS counts whole seconds: waiting while SECONDS <= DEADLINE waits at least WAIT_SECONDS.
DEADLINE=$((SECONDS + WAIT_SECONDS))

# --- the system -----------------------------------------------------------------------------
distribution() {
	local pretty="" id="" version=""
	local f="$ROOT/etc/os-release"
	[ -r "$f" ] || f="$ROOT/usr/lib/os-release"
	if [ -r "$f" ]; then
		# Read the values without sourcing the file (it is data, not a script of ours).
		local key value
		while IFS="=" read -r key value || [ -n "$key" ]; do
			value="${value//[\"\']/}"
			case "$key" in
			PRETTY_NAME) [ -n "$pretty" ] || pretty="${value:0:80}" ;;
			ID) [ -n "$id" ] || id="${value:0:40}" ;;
			VERSION_ID) [ -n "$version" ] || version="${value:0:40}" ;;
			esac
		done <"$f"
	fi
	if [ -n "$pretty" ]; then
		echo "$pretty"
	elif [ -n "$id" ]; then
		echo "$id $version"
	else
		echo "an unknown distribution (no os-release)"
	fi
}
DISTRIBUTION="$(distribution)"

interface_by_mac() {
	# `ip -o link` prints "3: ens6: <...> ... link/ether 0a:..:5f brd ..." (veth names carry
	# an "@peer" suffix); names are not predictable across images, the MAC is.
	ip_out -o link show | awk -v mac="$1" '{
		for (i = 1; i < NF; i++) if (!found && $i == "link/ether" && tolower($(i + 1)) == mac) {
			name = $2; sub(/:$/, "", name); sub(/@.*/, "", name); print name; found = 1
		}
	}'
}

wait_for_interface() {
	local name
	while :; do
		name="$(interface_by_mac "$MAC")"
		if [ -n "$name" ] && $LIVE && command -v udevadm >/dev/null; then
			# A hot-plugged NIC shows up as ethN before udev gives it its predictable name:
			# let udev finish, then look again.
			udevadm settle --timeout=10 || true
			name="$(interface_by_mac "$MAC")"
		fi
		if [ -n "$name" ]; then
			echo "$name"
			return 0
		fi
		[ "$SECONDS" -le "$DEADLINE" ] || return 1
		sleep 1
	done
}

has_file() {
	local f
	for f in "$@"; do [ -e "$ROOT$f" ] && return 0; done
	return 1
}

has_glob() {
	# True when the glob (under ROOT) matches at least one file.
	compgen -G "$ROOT$1" >/dev/null
}

detect_manager() {
	# What manages the network here, detected from what is installed and enabled, not from
	# the distribution's name. amazon-ec2-net-utils first: where it is installed (Amazon
	# Linux 2 and 2023, some Debian images) it configures every hot-plugged ENI itself.
	if has_file /usr/lib/systemd/system/policy-routes@.service \
		/lib/systemd/system/policy-routes@.service /usr/bin/setup-policy-routes \
		/etc/sysconfig/network-scripts/ec2net-functions; then
		echo ec2-net-utils
	elif has_file /usr/sbin/netplan /usr/bin/netplan && has_glob "/etc/netplan/*.yaml"; then
		echo netplan
	elif has_file /usr/sbin/NetworkManager &&
		has_glob "/etc/systemd/system/*.wants/NetworkManager.service"; then
		echo networkmanager
	elif has_glob "/etc/systemd/system/*.wants/systemd-networkd.service"; then
		echo networkd
	elif has_file /etc/network/interfaces /sbin/ifup /usr/sbin/ifup; then
		echo ifupdown
	else
		echo none
	fi
}


# --- checks of the live state ---------------------------------------------------------------
# The output of a read-only ip command, empty when it fails (a table that does not exist yet).
# Read whole before any grep: `ip ... | grep -q` would fail under pipefail when grep exits
# early and ip gets SIGPIPE.
ip_out() {
	local out
	out="$(ip "$@" 2>/dev/null)" || true
	printf '%s\n' "$out"
}

address_present() {
	grep -q " inet ${ADDRESS//./\\.}/" <<<"$(ip_out -4 -o addr show dev "$1")"
}

rule_table() {
	# The table of the rule routing replies from the fixed address, whoever made it
	# (ec2-net-utils uses 10000+N, we use 1000+N, an operator may use anything).
	ip_out -4 rule show | awk -v a="$ADDRESS" '
		!found && $2 == "from" && ($3 == a || $3 == a "/32") {
			for (i = 4; i < NF; i++) if (!found && ($i == "lookup" || $i == "table")) {
				print $(i + 1); found = 1
			}
		}'
}

table_default_via() {
	# True when the table has a default route out of the interface.
	grep -Eq "^default .*dev $2( |$)" <<<"$(ip_out -4 route show table "$1")"
}

verify_live() {
	local table
	R_ADDRESS_PRESENT=false
	R_RULE_PRESENT=false
	R_TABLE_ROUTE_PRESENT=false
	address_present "$1" && R_ADDRESS_PRESENT=true
	table="$(rule_table)"
	if [ -n "$table" ]; then
		R_RULE_PRESENT=true
		table_default_via "$table" "$1" && R_TABLE_ROUTE_PRESENT=true
	fi
	return 0
}

wait_until_verified() {
	verify_live "$1"
	while ! { $R_ADDRESS_PRESENT && $R_RULE_PRESENT && $R_TABLE_ROUTE_PRESENT; } &&
		[ "$SECONDS" -le "$DEADLINE" ]; do
		sleep 1
		verify_live "$1"
	done
}

missing_list() {
	local missing=()
	$R_ADDRESS_PRESENT || missing+=("address $ADDRESS on $1")
	$R_RULE_PRESENT || missing+=("rule 'from $ADDRESS'")
	$R_TABLE_ROUTE_PRESENT || missing+=("default route out of $1 in the rule's table")
	local joined
	joined="$(printf '%s, ' "${missing[@]}")"
	echo "${joined%, }"
}

is_primary() {
	# The main table's default route leaves through the primary interface; never ours. Only
	# the preferred one (lowest metric, listed first) counts: cloud-init may give a secondary
	# interface its own DHCP default route with a higher metric (200).
	local routes
	routes="$(ip_out -4 route show table main default)"
	grep -Eq "dev $1( |$)" <<<"${routes%%$'\n'*}"
}

# --- writing files --------------------------------------------------------------------------
# put_file PATH MODE CONTENT: write only when the content differs (a second run rewrites
# nothing); atomically where possible, in place where the path is a mount point (a bind-mounted
# /etc/hosts in containers refuses a rename over it).
put_file() {
	local path="$ROOT$1" mode="$2" content="$3" tmp
	if [ -f "$path" ] && [ "$(cat "$path")" = "$content" ]; then
		chmod "$mode" "$path"
		return 0
	fi
	mkdir -p "$(dirname "$path")"
	tmp="$(mktemp "$(dirname "$path")/.fixed-ip.XXXXXX")"
	printf '%s\n' "$content" >"$tmp"
	chmod "$mode" "$tmp"
	if ! mv -f "$tmp" "$path" 2>/dev/null; then
		cat "$tmp" >"$path"
		rm -f "$tmp"
	fi
	R_CHANGED=true
	note "wrote $path"
}

# --- live configuration with ip -------------------------------------------------------------
# run_to_ensure CHECK... -- COMMAND...: run COMMAND unless CHECK already holds; when COMMAND
# fails, accept it if CHECK holds now (the network manager may be adding the same thing at
# the same time, and the kernel answers "File exists").
run_to_ensure() {
	local check=()
	while [ "$1" != -- ]; do
		check+=("$1")
		shift
	done
	shift
	if "${check[@]}"; then return 0; fi
	if ! "$@" 2>/dev/null && ! "${check[@]}"; then
		"$@" # once more, to fail with its own error (set -e reports the line)
	fi
	R_CHANGED=true
	note "$*"
}

# shellcheck disable=SC2329  # called through run_to_ensure
link_up() {
	grep -q '[<,]UP[,>]' <<<"$(ip_out -o link show dev "$1")"
}

# shellcheck disable=SC2329  # called through run_to_ensure
table_has() {
	# table_has REGEX: a route of our table matches.
	grep -Eq "$1" <<<"$(ip_out -4 route show table "$TABLE")"
}

# shellcheck disable=SC2329  # called through run_to_ensure
has_our_rule() {
	grep -Eq "^[0-9]+:[[:space:]]+from ${ADDRESS//./\\.}(/32)? lookup $TABLE( |$)" \
		<<<"$(ip_out -4 rule show)"
}

apply_live() {
	local dev="$1"
	run_to_ensure link_up "$dev" -- ip link set dev "$dev" up
	run_to_ensure address_present "$dev" -- ip addr add "$ADDRESS/$PREFIX" dev "$dev"
	# The subnet route first: the kernel checks the default route's gateway in this table.
	run_to_ensure table_has "^${CIDR//./\\.} dev $dev( |$)" -- \
		ip route replace "$CIDR" dev "$dev" scope link src "$ADDRESS" table "$TABLE"
	run_to_ensure table_has "^default via ${ROUTER//./\\.} dev $dev( |$)" -- \
		ip route replace default via "$ROUTER" dev "$dev" table "$TABLE"
	run_to_ensure has_our_rule -- \
		ip rule add from "$ADDRESS/32" table "$TABLE" priority "$PRIORITY"
}

# --- persistent configuration, one per manager ----------------------------------------------
netplan_content() {
	local dev="$1"
	# The id is the kernel name, as cloud-init names it: if cloud-init also wrote a definition
	# for this interface, netplan merges the two instead of rendering two configurations for
	# one device. No set-name: the match by MAC is enough and renaming would race udev.
	cat <<EOF
# fixed-ip: the fixed address of the pool ENI $MAC ($MANAGED_MARK; rewritten on every launch).
# Replies from $ADDRESS leave through $dev (table $TABLE), not through the primary interface.
network:
  version: 2
  ethernets:
    $dev:
      match:
        macaddress: "$MAC"
      dhcp4: false
      dhcp6: false
      addresses: [$ADDRESS/$PREFIX]
      routes:
        - to: $CIDR
          scope: link
          table: $TABLE
        - to: 0.0.0.0/0
          via: $ROUTER
          table: $TABLE
      routing-policy:
        - from: $ADDRESS/32
          table: $TABLE
          priority: $PRIORITY
EOF
}

persist_netplan() {
	local dev="$1" file content tmpdir err
	file="/etc/netplan/90-fixed-ip-$dev.yaml"
	content="$(netplan_content "$dev")"
	if [ -f "$ROOT$file" ] && [ "$(cat "$ROOT$file")" = "$content" ]; then
		R_PERSISTED=true
		return 0
	fi
	if ! command -v netplan >/dev/null; then
		problem "netplan is installed on $DISTRIBUTION but not on PATH: cannot validate $file"
		return 0
	fi
	# Validate with netplan itself, on a copy, before the real file exists: a file netplan
	# refuses would break the network at the next boot.
	tmpdir="$(mktemp -d)"
	mkdir -p "$tmpdir/etc/netplan"
	cp "$ROOT"/etc/netplan/*.yaml "$tmpdir/etc/netplan/"
	printf '%s\n' "$content" >"$tmpdir$file"
	chmod 600 "$tmpdir"/etc/netplan/*.yaml
	if ! err="$(netplan generate --root-dir "$tmpdir" 2>&1)"; then
		rm -rf "$tmpdir"
		problem "netplan refused the configuration for $dev: $(last_lines "$err")"
		return 0
	fi
	rm -rf "$tmpdir"
	put_file "$file" 600 "$content"
	# Render it now, as the boot does, so that systemd-networkd knows these routes and the
	# rule if it restarts (it removes foreign rules); no `netplan apply`, which can bounce the
	# primary interface: the live state is set with ip below.
	if ! err="$(netplan generate --root-dir "${ROOT:-/}" 2>&1)"; then
		problem "netplan generate failed: $(last_lines "$err")"
		return 0
	fi
	# netplan renders for systemd-networkd: the same reason to reload as its own files.
	reload_networkd
	R_PERSISTED=true
}

last_lines() {
	# A command's complaint on one line: its last three lines.
	printf '%s' "$1" | tail -n 3 | tr '\n' ' '
}

nm_uuid() {
	# Stable per MAC, so that a second run writes the same file.
	local hex="${MAC//:/}"
	echo "66697865-642d-4970-8000-$hex"
}

persist_networkmanager() {
	local dev="$1" file content uuid
	file="/etc/NetworkManager/system-connections/fixed-ip-$dev.nmconnection"
	uuid="$(nm_uuid)"
	# Matched by MAC, static (the ENI's address never changes), never the default route of
	# the main table; the routes and the rule live in table 1000+N.
	content="$(
		cat <<EOF
# fixed-ip: the fixed address of the pool ENI $MAC ($MANAGED_MARK).
[connection]
id=fixed-ip-$dev
uuid=$uuid
type=ethernet
autoconnect=true
autoconnect-priority=100

[ethernet]
mac-address=${MAC^^}

[ipv4]
method=manual
address1=$ADDRESS/$PREFIX
never-default=true
may-fail=false
route1=$CIDR
route1_options=table=$TABLE
route2=0.0.0.0/0,$ROUTER
route2_options=table=$TABLE
routing-rule1=priority $PRIORITY from $ADDRESS/32 table $TABLE

[ipv6]
method=ignore
EOF
	)"
	if [ -f "$ROOT$file" ] && [ "$(cat "$ROOT$file")" = "$content" ]; then
		R_PERSISTED=true
		return 0
	fi
	# NetworkManager ignores keyfiles readable by others.
	put_file "$file" 600 "$content"
	R_PERSISTED=true
	if $LIVE && command -v nmcli >/dev/null &&
		[ "$(nmcli -t -f RUNNING general 2>/dev/null)" = running ]; then
		# Load and activate the profile on this device only (the primary is not touched);
		# a failure here is reported by the verification below.
		nmcli connection load "$file" || problem "nmcli could not load $file"
		nmcli --wait 20 connection up uuid "$uuid" ifname "$dev" ||
			problem "nmcli could not activate fixed-ip-$dev on $dev"
	fi
}

persist_networkd() {
	local dev="$1" file content
	# networkd applies the first .network file (in lexical order) that matches a link: 09-
	# sorts before netplan's 10- and the distributions' catch-all files.
	file="/etc/systemd/network/09-fixed-ip-$dev.network"
	content="$(
		cat <<EOF
# fixed-ip: the fixed address of the pool ENI $MAC ($MANAGED_MARK).
[Match]
MACAddress=$MAC

[Network]
Address=$ADDRESS/$PREFIX
LinkLocalAddressing=no
IPv6AcceptRA=no

[Route]
Destination=$CIDR
Scope=link
Table=$TABLE

[Route]
Gateway=$ROUTER
Table=$TABLE

[RoutingPolicyRule]
From=$ADDRESS/32
Table=$TABLE
Priority=$PRIORITY
EOF
	)"
	if [ -f "$ROOT$file" ] && [ "$(cat "$ROOT$file")" = "$content" ]; then
		R_PERSISTED=true
		return 0
	fi
	put_file "$file" 644 "$content"
	R_PERSISTED=true
	reload_networkd
}

reload_networkd() {
	# systemd-networkd (248 and later) drops routing rules it does not know of
	# (ManageForeignRoutingPolicyRules) whenever it reconfigures a link: make it read the
	# files that now hold ours, as amazon-ec2-net-utils does after a hot-plug. Only where it
	# runs: netplan may render for NetworkManager instead.
	if $LIVE && command -v networkctl >/dev/null &&
		systemctl is-active --quiet systemd-networkd 2>/dev/null; then
		networkctl reload || problem "networkctl reload failed"
	fi
}

# --- host name ------------------------------------------------------------------------------
set_host_name() {
	local name="$1" current hosts_file line new_hosts
	local use_hostnamectl=false
	if $LIVE && command -v hostnamectl >/dev/null; then use_hostnamectl=true; fi
	current="$(hostname)"
	if [ "${current,,}" != "${name,,}" ]; then
		# hostnamectl sets the transient and the static name (/etc/hostname); where it cannot
		# (systemd-hostnamed unavailable), hostname and /etc/hostname do the same.
		if ! $use_hostnamectl || ! hostnamectl set-hostname "$name"; then
			use_hostnamectl=false
			hostname "$name"
		fi
		R_CHANGED=true
		note "host name $current -> $name"
	fi
	if ! $use_hostnamectl; then
		put_file /etc/hostname 644 "$name"
	fi
	# cloud-init sets the host name from the metadata at every boot, and may rewrite
	# /etc/hosts from its template, unless told not to.
	if [ -d "$ROOT/etc/cloud" ]; then
		put_file /etc/cloud/cloud.cfg.d/99-fixed-ip.cfg 644 \
			"# fixed-ip: keep the host name set through SSM ($MANAGED_MARK).
preserve_hostname: true
manage_etc_hosts: false"
	fi
	# /etc/hosts: one managed line, first, so that the name resolves to the fixed address
	# (`hostname -i`); every other line is kept as it is.
	hosts_file="$ROOT/etc/hosts"
	line="$ADDRESS $name ${name%%.*} # $MANAGED_MARK"
	if [ "${name%%.*}" = "$name" ]; then line="$ADDRESS $name # $MANAGED_MARK"; fi
	new_hosts="$line"
	if [ -f "$hosts_file" ]; then
		new_hosts="$(
			printf '%s\n' "$line"
			grep -v "# $MANAGED_MARK\$" "$hosts_file" || true
		)"
	fi
	put_file /etc/hosts 644 "$new_hosts"
}

host_name_verified() {
	local name="$1" first
	[ "$(hostname | tr '[:upper:]' '[:lower:]')" = "${name,,}" ] || return 1
	# The first line naming the host must give the fixed address.
	first="$(awk -v n="${name,,}" '
		/^[[:space:]]*#/ || found { next }
		{
			for (i = 2; i <= NF && $i !~ /^#/; i++)
				if (!found && tolower($i) == n) { print $1; found = 1 }
		}
	' "$ROOT/etc/hosts" 2>/dev/null)" || true
	[ "$first" = "$ADDRESS" ]
}

# --- main -----------------------------------------------------------------------------------
R_MANAGER="$(detect_manager)"
note "mode $MODE, $DISTRIBUTION, manager $R_MANAGER, address $ADDRESS ($CIDR), MAC $MAC"

if [ "$MODE" != skip ]; then
	if ! DEV="$(wait_for_interface)"; then
		fail "no interface with MAC $MAC appeared within ${WAIT_SECONDS}s on $DISTRIBUTION"
	fi
	R_INTERFACE="$DEV"
	if is_primary "$DEV"; then
		fail "interface $DEV carries the main table's default route" \
			"(the primary interface): not touching it"
	fi
	note "interface $DEV"
fi

if [ "$MODE" = configure ]; then
	case "$R_MANAGER" in
	ec2-net-utils)
		# It configures the hot-plugged interface itself (DHCP, table 10000+N, a rule per
		# address): wait for it, bounded, and change nothing.
		wait_until_verified "$DEV"
		# It writes its configuration again at every boot (udev rule + policy-routes@).
		if $R_ADDRESS_PRESENT && $R_RULE_PRESENT && $R_TABLE_ROUTE_PRESENT; then
			R_PERSISTED=true
		fi
		;;
	netplan | networkmanager | networkd)
		# Called plainly, never in an && list or an if: bash ignores set -e inside a function
		# called there, and a failed write would pass unnoticed.
		case "$R_MANAGER" in
		netplan) persist_netplan "$DEV" ;;
		networkmanager) persist_networkmanager "$DEV" ;;
		networkd) persist_networkd "$DEV" ;;
		esac
		# Apply live only what is persisted (a configuration the manager refused is not).
		if [ ${#PROBLEMS[@]} -eq 0 ]; then apply_live "$DEV"; fi
		;;
	ifupdown)
		problem "$DISTRIBUTION manages the network with ifupdown, which fixed-ip does not" \
			"configure: use Mode=verify and configure $DEV yourself (docs/os-configuration.md)"
		;;
	*)
		problem "$DISTRIBUTION has none of amazon-ec2-net-utils, netplan (/etc/netplan/*.yaml)," \
			"NetworkManager (enabled) or systemd-networkd (enabled): nothing to configure $DEV" \
			"with; use Mode=verify and configure it yourself"
		;;
	esac
fi

if [ "$MODE" = verify ]; then
	# Whatever the operator set up (a udev rule, a boot script) may still be at work.
	wait_until_verified "$DEV"
elif [ "$MODE" != skip ]; then
	verify_live "$DEV"
fi

if [ -n "$HOST_NAME" ]; then
	set_host_name "$HOST_NAME"
	if host_name_verified "$HOST_NAME"; then
		R_HOST_NAME_OK=true
	else
		R_HOST_NAME_OK=false
		problem "host name is $(hostname), or /etc/hosts does not map $HOST_NAME to $ADDRESS first"
	fi
fi

if [ "$MODE" = skip ]; then
	R_MESSAGE="Mode=skip: the address was neither configured nor checked on $DISTRIBUTION"
elif $R_ADDRESS_PRESENT && $R_RULE_PRESENT && $R_TABLE_ROUTE_PRESENT; then
	R_MESSAGE="$ADDRESS answers on $DEV (table $(rule_table)) on $DISTRIBUTION, $R_MANAGER"
else
	problem "on $DISTRIBUTION ($R_MANAGER, Mode=$MODE) missing: $(missing_list "$DEV")"
fi
if print_result; then exit 0; else exit 1; fi
