#!/bin/sh
# vpn-failover daemon check: prints one line saying whether this instance's VPN daemon is positively
# healthy, and exits 0 only when it is.
#
# The controller runs it through SSM Run Command (its probe document embeds this file verbatim) and the
# member agent (vpn-failover-agent) runs the installed copy every second or two, so both judge the daemon in
# exactly the same way.
#
# Settings come from the environment (the SSM document passes its parameters this way):
#   SSM_ProbeKind               systemd | strongswan | libreswan
#   SSM_Unit                    the unit the systemd kind checks                       (default strongswan)
#   SSM_MinSas                  installed CHILD SAs the strongswan/libreswan kinds need (default 1)
#   SSM_PeerAddresses           pairs probed together, "a-b,c-d" by IPv4 address: ping my partner  (default none)
#   SSM_CommandTimeout          seconds each daemon command may take; the controller asks for 1 when it confirms
#                               a member agent's report (the agent has already waited its own timeout)
#   VPN_FAILOVER_CHECK_TIMEOUT  the same, when SSM_CommandTimeout is not set (the agent sets it)  (default 2)
#
# Tunnels are counted as installed CHILD (IPsec) SAs, not IKE SAs: an IKE SA without a CHILD SA carries no
# traffic. Every daemon command runs under its own timeout, so a hung daemon is reported, not waited for: a
# healthy swanctl, ipsec or systemctl answers in milliseconds, so 2 s lets a hung daemon be seen in seconds.
#
# After the verdict line, when SSM_PeerAddresses lists a pair holding one of this instance's addresses, one
# line "peer ADDRESS reachable" (or "unreachable", "unknown") about the partner: whether the partner answers
# ping, evidence about its OS that does not go through its own SSM agent. One command probes many pairs, so it
# names every pair and each member finds its own. The peer line never changes the verdict or the exit status.
#
# Exit status: 0 healthy; 1 unhealthy; 3 cannot judge (SSM Agent too old to pass the parameters);
# 4 unhealthy because the daemon did not answer in time.
kind="${SSM_ProbeKind:-}"
unit="${SSM_Unit:-strongswan}"
min_sas="${SSM_MinSas:-1}"
peers="${SSM_PeerAddresses:-}"
limit="${SSM_CommandTimeout:-${VPN_FAILOVER_CHECK_TIMEOUT:-2}}"

# This instance's own IPv4 addresses, one a line (none when ip is missing or does not answer in time).
own_addresses() {
  timeout -k 1 "$limit" ip -o -4 addr show 2>/dev/null | awk '{ split($4, a, "/"); print a[1] }'
}

# Find this member's pair in $peers ("a-b,c-d,...": the members of each pair probed together), ping the
# partner (two echo requests 0.2 s apart, one second for a reply, under a 3 s timeout of its own: a short
# daemon-command timeout must not silence the peer line) and print one line. ping
# exits 0 when a reply came and 1 when none did; anything else (no ping, the timeout) says nothing.
check_peers() {
  [ -n "$peers" ] || return 0
  own=$(own_addresses)
  partner=""
  saved_ifs=$IFS
  IFS=,
  set -f
  for entry in $peers; do
    first=${entry%%-*}
    second=${entry#*-}
    if printf '%s\n' "$own" | grep -qxF -- "$first"; then
      partner=$second
    elif printf '%s\n' "$own" | grep -qxF -- "$second"; then
      partner=$first
    fi
  done
  set +f
  IFS=$saved_ifs
  case "$partner" in
    '' | *[!0-9.]*) return 0 ;;
  esac
  answer=unknown
  if command -v ping >/dev/null 2>&1; then
    timeout -k 1 3 ping -n -c 2 -i 0.2 -W 1 "$partner" >/dev/null 2>&1
    case $? in
      0) answer=reachable ;;
      1) answer=unreachable ;;
    esac
  fi
  echo "peer $partner $answer"
}

# Print the verdict line, then the peer line, and exit with the verdict's status.
finish() {
  echo "$2"
  check_peers
  exit "$1"
}

healthy() {
  finish 0 "healthy: $1"
}

unhealthy() {
  finish 1 "unhealthy: $1"
}

# Run a daemon command under a hard timeout, leaving its output in $out and its exit status in $rc.
# timeout(1) exits 124 when the limit fires, and 137 when the command ignored SIGTERM and was killed.
ask() {
  out=$(timeout -k 1 "$limit" "$@" 2>/dev/null)
  rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    finish 4 "unhealthy: daemon not responding: '$*' did not answer within $limit s"
  fi
}

# Lines of $out matching an extended regular expression.
count() {
  printf '%s\n' "$out" | grep -cE "$1"
}

# Judge $1 installed CHILD SAs against the minimum; $2, when given, says how many IKE SAs are up.
judge_sas() {
  [ "$1" -ge "$min_sas" ] && healthy "$1 installed CHILD SAs (at least $min_sas required)"
  unhealthy "$1 installed CHILD SAs${2:+, $2 IKE SAs established} (at least $min_sas required)"
}

if [ -z "$kind" ]; then
  finish 3 "unknown: SSM_ProbeKind is not set (parameters as environment variables need SSM Agent 3.3.2746.0 or later)"
fi

case "$kind" in
  systemd)
    ask systemctl is-active -- "$unit"
    state=$(printf '%s\n' "$out" | head -n 1)
    [ "$state" = active ] && healthy "$unit is active"
    unhealthy "$unit is ${state:-not known to systemd}"
    ;;
  strongswan)
    if command -v swanctl >/dev/null 2>&1; then
      ask swanctl --list-sas
      [ "$rc" -eq 0 ] || unhealthy "charon does not answer (swanctl --list-sas exit $rc)"
      # A CHILD SA line reads "net: #1, reqid 1, INSTALLED, TUNNEL, ..."; an IKE SA line "gw: #1, ESTABLISHED, ...".
      judge_sas "$(count ', INSTALLED,')" "$(count ', ESTABLISHED,')"
    elif command -v ipsec >/dev/null 2>&1; then
      ask ipsec status
      [ "$rc" -eq 0 ] || unhealthy "charon does not answer (ipsec status exit $rc)"
      # stroke: "net{1}:  INSTALLED, TUNNEL, ..." per CHILD SA, "gw[1]: ESTABLISHED ..." per IKE SA.
      judge_sas "$(count '\{[0-9]+\}: +INSTALLED')" "$(count '\[[0-9]+\]: +ESTABLISHED')"
    else
      unhealthy "neither swanctl nor ipsec is installed"
    fi
    ;;
  libreswan)
    command -v ipsec >/dev/null 2>&1 || unhealthy "ipsec is not installed"
    ask ipsec trafficstatus
    [ "$rc" -eq 0 ] || ask ipsec whack --trafficstatus
    [ "$rc" -eq 0 ] || unhealthy "pluto does not answer (ipsec trafficstatus exit $rc)"
    # One line per IPsec SA: '#3: "office/0x1", type=ESP, add_time=...' (older releases prefix "006 ").
    judge_sas "$(count 'type=(ESP|AH)')"
    ;;
  *)
    finish 3 "unknown: probe kind $kind is not supported"
    ;;
esac
