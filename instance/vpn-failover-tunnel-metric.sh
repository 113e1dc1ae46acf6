#!/usr/bin/env bash
# vpn-failover tunnel-metric publisher.
#
# Publishes one datapoint per run: TunnelUp = 1 when this instance's VPN tunnel is up, 0 when it is not, to
# CloudWatch namespace VpnFailover/Tunnels with dimension InstanceId=<this instance> (the defaults the controller's
# tunnel signal reads). The systemd timer next to this script runs it every 60 seconds.
#
# "Up" means: the daemon check (vpn-failover-check, the same script the controller's SSM probe runs) passes:
# at least MIN_SAS installed CHILD SAs (PROBE=strongswan or libreswan) or the unit UNIT active
# (PROBE=systemd), every daemon command under its own timeout; and, when PING_TARGET is set, that address
# (a host across the tunnel) answers a ping, a view of traffic actually crossing the tunnel that the probe
# does not have.
#
# Settings come from the environment (the service reads /etc/default/vpn-failover-tunnel-metric):
#   PROBE               strongswan | libreswan | systemd            (default strongswan)
#   UNIT                systemd unit for PROBE=systemd              (default strongswan)
#   MIN_SAS             installed CHILD SAs required                (default 1)
#   PING_TARGET         optional address to ping across the tunnel  (default none)
#   NAMESPACE           CloudWatch namespace                        (default VpnFailover/Tunnels)
#   METRIC_NAME         metric name                                 (default TunnelUp)
#   STORAGE_RESOLUTION  60 (standard) or 1 (high resolution)        (default 60)
#   CHECK               the daemon check                            (default vpn-failover-check on PATH)
#
# Needs: bash, curl, the AWS CLI, vpn-failover-check (instance/vpn-failover-check.sh), and an instance role allowing cloudwatch:PutMetricData in NAMESPACE
# (instance/publisher-policy.json). Instance id and Region come from IMDSv2.
set -uo pipefail

PROBE="${PROBE:-strongswan}"
UNIT="${UNIT:-strongswan}"
MIN_SAS="${MIN_SAS:-1}"
PING_TARGET="${PING_TARGET:-}"
NAMESPACE="${NAMESPACE:-VpnFailover/Tunnels}"
METRIC_NAME="${METRIC_NAME:-TunnelUp}"
STORAGE_RESOLUTION="${STORAGE_RESOLUTION:-60}"
CHECK="${CHECK:-vpn-failover-check}"
IMDS="http://169.254.169.254"

log() { echo "vpn-failover-tunnel-metric: $*"; }

imds() {
  local token
  token=$(curl -sf -m 2 -X PUT "$IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60') || return 1
  curl -sf -m 2 -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/$1"
}

# Prints 1 or 0 and why.
tunnel_state() {
  local verdict
  if ! verdict=$(SSM_ProbeKind="$PROBE" SSM_Unit="$UNIT" SSM_MinSas="$MIN_SAS" "$CHECK"); then
    echo "0 ${verdict#*: }"
    return
  fi
  if [ -n "$PING_TARGET" ] && ! ping -c 3 -W 2 -q "$PING_TARGET" >/dev/null 2>&1; then
    echo "0 $PING_TARGET does not answer across the tunnel"
    return
  fi
  echo "1 ${verdict#healthy: }"
}

main() {
  local instance_id region state value reason
  instance_id=$(imds instance-id) || { log "cannot read the instance id from IMDSv2"; return 1; }
  region=$(imds placement/region) || { log "cannot read the Region from IMDSv2"; return 1; }
  state=$(tunnel_state)
  value="${state%% *}"
  reason="${state#* }"
  if ! aws cloudwatch put-metric-data \
    --region "$region" \
    --namespace "$NAMESPACE" \
    --metric-name "$METRIC_NAME" \
    --dimensions "InstanceId=$instance_id" \
    --value "$value" \
    --unit Count \
    --storage-resolution "$STORAGE_RESOLUTION"; then
    log "PutMetricData failed ($METRIC_NAME=$value for $instance_id)"
    return 1
  fi
  log "$METRIC_NAME=$value for $instance_id: $reason"
}

main "$@"
