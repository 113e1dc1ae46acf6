#!/usr/bin/env bash
# vpn-failover member agent: runs on each VPN instance of a pair (systemd unit vpn-failover-agent).
#
# Every CHECK_INTERVAL it runs the daemon check (vpn-failover-check, the very script the controller's SSM
# probe runs, so both judge the daemon the same way) under its own timeout. A new verdict counts once
# DEBOUNCE consecutive checks agree on it, or at once when a check timed out (that check already spanned
# CHECK_TIMEOUT).
# It then writes a report to the DynamoDB table REPORT_TABLE at once (kind "change": the table's stream
# invokes the controller, which confirms with its own probe before anything moves), and with no change
# re-states its verdict every HEARTBEAT (kind "heartbeat"). A failed write is retried at the next check with
# the newest state, so a change is never lost; repeated failures back off (2, 4, 8... checks, at most 30 s)
# so a missing permission does not call DynamoDB every second. The write is one HTTPS request signed by curl
# (--aws-sigv4) with the instance role's credentials from IMDSv2: starting the AWS CLI takes 0.3-1.5 s on a
# small instance, and a change report is on the failover's critical path. A curl without --aws-sigv4 (before
# 7.75), or REPORT_WITH=cli, writes through the AWS CLI instead. Every METRIC_INTERVAL it takes a TunnelUp
# datapoint (1 up, 0 down, nothing when the check cannot judge), timestamped when taken, for CloudWatch: the
# datapoints the controller's tunnel signal reads (none into an AWS/ namespace: that metric comes from AWS).
# A datapoint that is 0 or differs from the one before goes at once, with any held; while the tunnel stays up
# and the reports reach the table, they go METRIC_BATCH to one PutMetricData, so the per-minute series stays
# whole for a fifth of the requests (the controller reads an up tunnel from the report, which carries TunnelUp
# and is rewritten at once when it changes). Publishing runs in the background so the checks never wait for it. With REPORT_TABLE empty it only
# publishes the metric.
#
# The report is one item, replaced at each write, keyed by this instance's ARN ("member"); the instance
# policy lets a member write only the item keyed by its own ARN (dynamodb:LeadingKeys on
# ${ec2:SourceInstanceARN}), so the key names the sender. Attributes: member, instanceId, verdict
# (healthy | unhealthy | unknown), detail (the check's verdict line), exitStatus, tunnelUp (omitted when not
# judged), since (epoch ms the verdict was first seen), at (epoch ms sent), kind (change | heartbeat), seq
# (+1 per report since start), agentVersion, expiresAt (epoch s, a day after at: the table's TTL).
#
# Settings come from the environment (the unit reads /etc/default/vpn-failover-agent):
#   PROBE               strongswan | libreswan | systemd                  (default strongswan)
#   UNIT                systemd unit for PROBE=systemd                    (default strongswan)
#   MIN_SAS             installed CHILD SAs required                      (default 1)
#   PING_TARGET         an address across the tunnel that must answer a ping for TunnelUp=1 (default none)
#   NAMESPACE           CloudWatch namespace of TunnelUp                  (default VpnFailover/Tunnels)
#   METRIC_NAME         metric name                                       (default TunnelUp)
#   STORAGE_RESOLUTION  60 (standard) or 1 (high resolution)              (default 60)
#   REPORT_TABLE        the agent table; empty: publish the metric only   (default empty)
#   REPORT_WITH         curl (signed by curl itself) | cli (the AWS CLI)   (default curl)
#   CHECK_INTERVAL      seconds between checks                            (default 1)
#   CHECK_TIMEOUT       seconds each daemon command may take              (default 1)
#   DEBOUNCE            consecutive checks that must agree on a verdict   (default 2)
#   HEARTBEAT           seconds between reports when nothing changes      (default 60)
#   METRIC_INTERVAL     seconds between TunnelUp datapoints               (default 60)
#   CHECK               the daemon check                                  (default vpn-failover-check on PATH)
#   AGENT_VERSION       written into every report, up to 64 characters    (default manual)
#   AGENT_MAX_CHECKS    tests and diagnostics only: exit 0 after this many checks (default: run forever)
#   DYNAMODB_ENDPOINT   tests only: DynamoDB endpoint URL, e.g. http://127.0.0.1:5000 (default: the Region's)
# Seconds may have up to three decimals. A bad setting exits 78 (EX_CONFIG) with one line naming it.
#
# Needs bash, curl (7.75 or later to sign the reports itself), coreutils (timeout, date, sleep), the AWS CLI
# v2, vpn-failover-check, IMDSv2 (instance id, Region, account, partition and its domain, the role's
# credentials) and an instance role with instance/agent-policy.json. Runs as root: the IPsec control sockets
# are root-only.
set -uo pipefail

PROBE="${PROBE:-strongswan}"
UNIT="${UNIT:-strongswan}"
MIN_SAS="${MIN_SAS:-1}"
PING_TARGET="${PING_TARGET:-}"
NAMESPACE="${NAMESPACE:-VpnFailover/Tunnels}"
METRIC_NAME="${METRIC_NAME:-TunnelUp}"
STORAGE_RESOLUTION="${STORAGE_RESOLUTION:-60}"
REPORT_TABLE="${REPORT_TABLE:-}"
REPORT_WITH="${REPORT_WITH:-curl}"
CHECK_INTERVAL="${CHECK_INTERVAL:-1}"
CHECK_TIMEOUT="${CHECK_TIMEOUT:-1}"
# How soon a check that disagrees with the reported verdict is followed by the next (ms), when that is sooner
# than CHECK_INTERVAL.
RECHECK_MS=500
DEBOUNCE="${DEBOUNCE:-2}"
HEARTBEAT="${HEARTBEAT:-60}"
METRIC_INTERVAL="${METRIC_INTERVAL:-60}"
CHECK="${CHECK:-vpn-failover-check}"
AGENT_VERSION="${AGENT_VERSION:-manual}"
AGENT_MAX_CHECKS="${AGENT_MAX_CHECKS:-}"
DYNAMODB_ENDPOINT="${DYNAMODB_ENDPOINT:-}"

readonly IMDS="http://169.254.169.254"
readonly EX_CONFIG=78
# Each AWS CLI call: one attempt (the loop retries), short connect and read timeouts, and a hard limit on the
# whole call including the CLI's own start, so a dead endpoint stalls the checks for seconds at most.
readonly AWS_CONNECT_TIMEOUT=2
readonly AWS_READ_TIMEOUT=3
readonly AWS_CALL_LIMIT=10
readonly RETRY_CAP_MS=30000
# TunnelUp=1 datapoints per PutMetricData while the tunnel stays up (five minutes' worth at the default
# METRIC_INTERVAL): a fifth of the requests, the same per-minute series.
readonly METRIC_BATCH=5
# A report written by curl: 1 s to connect, 3 s in all.
readonly PUT_CONNECT_TIMEOUT=1
readonly PUT_LIMIT=3
# The instance role's credentials are fetched again this long before they expire; IMDS offers new ones at
# least 5 minutes before
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html).
readonly CREDENTIALS_MARGIN_S=300
readonly REPORT_TTL_S=86400
readonly DETAIL_MAX=400

log() { printf '%s\n' "$*"; }

config_error() {
  log "vpn-failover-agent: bad setting: $*"
  exit "$EX_CONFIG"
}

now_ms() { date +%s%3N; }

# Milliseconds as seconds with three decimals, the form timeout(1) and sleep(1) take.
seconds() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# The setting named $1, a positive number of seconds with up to three decimals, in milliseconds in REPLY.
setting_ms() {
  local value=${!1}
  [[ $value =~ ^([0-9]{1,7})(\.([0-9]{1,3}))?$ ]] || config_error "$1=$value is not a number of seconds"
  local fraction="${BASH_REMATCH[3]}000"
  REPLY=$((10#${BASH_REMATCH[1]} * 1000 + 10#${fraction:0:3}))
  ((REPLY > 0)) || config_error "$1=$value must be more than 0"
}

# The setting named $1 must match the extended regular expression $2, described by $3.
require() {
  local value=${!1}
  [[ $value =~ $2 ]] || config_error "$1=$value is not $3"
}

read_settings() {
  require PROBE '^(strongswan|libreswan|systemd)$' 'one of strongswan, libreswan, systemd'
  require UNIT '^[A-Za-z0-9@._:-]{1,128}$' 'a systemd unit name'
  require MIN_SAS '^[0-9]{1,4}$' 'a whole number'
  require PING_TARGET '^([A-Za-z0-9.:][A-Za-z0-9.:-]{0,252})?$' 'an address or host name'
  require NAMESPACE '^[A-Za-z0-9._/#:][A-Za-z0-9._/#: -]{0,254}$' 'a CloudWatch namespace'
  # A pair whose tunnel signal reads an AWS metric (AWS/VPN TunnelState) needs no datapoint from the agent,
  # and AWS/ namespaces are AWS's own: the agent then only reports.
  PUBLISH=1
  [[ $NAMESPACE != AWS/* ]] || PUBLISH=0
  require METRIC_NAME '^[A-Za-z0-9._/#:][A-Za-z0-9._/#: -]{0,254}$' 'a CloudWatch metric name'
  require STORAGE_RESOLUTION '^(1|60)$' '1 or 60'
  require REPORT_TABLE '^([A-Za-z0-9_.-]{3,255})?$' 'a DynamoDB table name'
  require REPORT_WITH '^(curl|cli)$' 'curl or cli'
  require DYNAMODB_ENDPOINT '^(https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)?$' 'an http(s)://host[:port] URL'
  require DEBOUNCE '^[1-9][0-9]?$' 'a whole number from 1 to 99'
  require AGENT_MAX_CHECKS '^([1-9][0-9]{0,8})?$' 'a positive whole number'
  # with the 400-character detail line, a report stays under 1 KB: one write unit
  require AGENT_VERSION '^.{1,64}$' 'at most 64 characters'
  [ -n "$CHECK" ] || config_error "CHECK is empty"
  setting_ms CHECK_INTERVAL && INTERVAL_MS=$REPLY
  setting_ms CHECK_TIMEOUT && TIMEOUT_MS=$REPLY
  setting_ms HEARTBEAT && HEARTBEAT_MS=$REPLY
  setting_ms METRIC_INTERVAL && METRIC_MS=$REPLY
  # The check may run two daemon commands, each under CHECK_TIMEOUT plus timeout's 1 s kill grace, only the
  # second of which can hang; the extra second covers the script itself.
  CHECK_LIMIT=$(seconds $((TIMEOUT_MS + 2000)))
}

# $1 as a JSON string: quotes and backslashes escaped, every byte outside printable ASCII as \u00XX, so
# any text (the verdict line names a unit and echoes daemon output) makes a valid document.
json_string() {
  local LC_ALL=C
  local s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      '"' | \\) out+="\\$c" ;;
      [[:print:]]) out+=$c ;;
      *) printf -v c '\\u%04x' "'$c" && out+=$c ;;
    esac
  done
  printf '"%s"' "$out"
}

# --- identity (IMDSv2) ---

INSTANCE_ID=''
REGION=''
DOMAIN=''
MEMBER=''
IMDS_PROBLEM=''
IMDS_LOGGED=''

imds_get() {
  curl -sf --connect-timeout 1 -m 2 -H "X-aws-ec2-metadata-token: $1" "$IMDS/latest/$2"
}

imds_token() {
  curl -sf --connect-timeout 1 -m 2 -X PUT "$IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60'
}

# A string field of a flat JSON document from IMDS (one field a line): the identity document, credentials.
document_field() {
  local pattern="\"$1\"[[:space:]]*:[[:space:]]*\"([^\"]*)\""
  [[ $2 =~ $pattern ]] && printf '%s' "${BASH_REMATCH[1]}"
}

# Read the instance id, Region, account, partition and its DNS domain once; on failure say why in IMDS_PROBLEM (the loop
# tries again at the next check).
identify() {
  local token partition domain document id region account
  token=$(imds_token) || {
    IMDS_PROBLEM="no IMDSv2 token"
    return 1
  }
  if ! partition=$(imds_get "$token" meta-data/services/partition) ||
    ! domain=$(imds_get "$token" meta-data/services/domain) ||
    ! document=$(imds_get "$token" dynamic/instance-identity/document) ||
    ! id=$(imds_get "$token" meta-data/instance-id); then
    IMDS_PROBLEM="IMDSv2 did not answer"
    return 1
  fi
  region=$(document_field region "$document")
  account=$(document_field accountId "$document")
  if [[ ! $partition =~ ^aws[a-z-]*$ || ! $region =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ||
    ! $account =~ ^[0-9]{12}$ || ! $id =~ ^i-[0-9a-f]{8,17}$ || ! $domain =~ ^[a-z0-9.-]+$ ]]; then
    IMDS_PROBLEM="unexpected identity from IMDSv2 (partition '$partition', domain '$domain', Region '$region', account '$account', instance '$id')"
    return 1
  fi
  INSTANCE_ID=$id
  REGION=$region
  DOMAIN=$domain
  MEMBER="arn:$partition:ec2:$region:$account:instance/$id"
}

# --- the check and its debounced verdict ---

STATUS=0 LINE='' VERDICT='' CHECKED_AT=0
CANDIDATE='' AGREEING=0 CANDIDATE_SINCE=0
CURRENT='' CURRENT_LINE='' CURRENT_STATUS=0 SINCE=0 CHANGE_PENDING=0

check_daemon() {
  local out
  out=$(SSM_ProbeKind="$PROBE" SSM_Unit="$UNIT" SSM_MinSas="$MIN_SAS" SSM_PeerAddresses='' \
    VPN_FAILOVER_CHECK_TIMEOUT="$CHECK_TIMEOUT" timeout -k 1 "$CHECK_LIMIT" "$CHECK" 2>/dev/null)
  STATUS=$?
  CHECKED_AT=$(now_ms)
  LINE=${out%%$'\n'*}
  case $STATUS in
    124 | 137)
      STATUS=4
      LINE="unhealthy: daemon not responding: $CHECK did not finish within $CHECK_LIMIT s"
      ;;
    126 | 127) LINE="unknown: cannot run $CHECK (exit $STATUS)" ;;
  esac
  case $STATUS in
    0) VERDICT=healthy ;;
    1 | 4) VERDICT=unhealthy ;;
    *) VERDICT=unknown ;;
  esac
  [ -n "$LINE" ] || LINE="$VERDICT: $CHECK exited $STATUS without a verdict line"
  LINE=${LINE:0:DETAIL_MAX}
}

debounce() {
  if [ "$VERDICT" = "$CANDIDATE" ]; then
    AGREEING=$((AGREEING + 1))
  else
    CANDIDATE=$VERDICT
    AGREEING=1
    CANDIDATE_SINCE=$CHECKED_AT
  fi
  if [ "$VERDICT" = "$CURRENT" ]; then
    CURRENT_LINE=$LINE
    CURRENT_STATUS=$STATUS
    return
  fi
  ((AGREEING >= DEBOUNCE || STATUS == 4)) || return
  log "verdict ${CURRENT:-none} -> $VERDICT after $AGREEING check(s): $LINE"
  CURRENT=$VERDICT
  CURRENT_LINE=$LINE
  CURRENT_STATUS=$STATUS
  SINCE=$CANDIDATE_SINCE
  CHANGE_PENDING=1
  REPORT_FAILURES=0
  REPORT_RETRY_CHECK=0
  NEXT_PING=0
}

# --- TunnelUp ---

PING_OK=0 NEXT_PING=0

# Whether PING_TARGET answers across the tunnel: refreshed once a METRIC_INTERVAL (and at each change to
# healthy), not every check, because a ping that gets no answer waits a second.
refresh_ping() {
  [ -n "$PING_TARGET" ] && [ "$CURRENT" = healthy ] || return 0
  local now
  now=$(now_ms)
  ((now >= NEXT_PING)) || return 0
  if timeout -k 1 3 ping -c 3 -i 0.2 -W 1 -q -- "$PING_TARGET" >/dev/null 2>&1; then
    PING_OK=1
  else
    PING_OK=0
    log "$PING_TARGET does not answer a ping across the tunnel: TunnelUp=0"
  fi
  NEXT_PING=$((now + METRIC_MS))
}

# TunnelUp for the current verdict: 1, 0, or empty when the check cannot judge.
tunnel_up() {
  case $CURRENT in
    healthy) if [ -z "$PING_TARGET" ]; then echo 1; else echo "$PING_OK"; fi ;;
    unhealthy) echo 0 ;;
  esac
}

# --- writes ---

AWS_PROBLEM=''

aws_call() {
  local errors rc
  errors=$(AWS_MAX_ATTEMPTS=1 AWS_PAGER='' timeout -k 1 "$AWS_CALL_LIMIT" aws "$@" --region "$REGION" \
    --cli-connect-timeout "$AWS_CONNECT_TIMEOUT" --cli-read-timeout "$AWS_READ_TIMEOUT" 2>&1 >/dev/null)
  rc=$?
  case $rc in
    0) return 0 ;;
    124 | 137) AWS_PROBLEM="no answer within $AWS_CALL_LIMIT s" ;;
    *)
      errors=${errors#"${errors%%[![:space:]]*}"}
      AWS_PROBLEM="exit $rc: ${errors%%$'\n'*}"
      ;;
  esac
  return "$rc"
}

# --- the report written by curl ---

# How reports are written: curl (signed by curl, no process start beyond curl's) or cli; set once at start.
WRITER=cli
CREDENTIALS_KEY='' CREDENTIALS_SECRET='' CREDENTIALS_TOKEN='' CREDENTIALS_DUE=0

choose_writer() {
  [ -n "$REPORT_TABLE" ] && [ "$REPORT_WITH" = curl ] || return 0
  local help
  help=$(curl --help all 2>/dev/null)
  if [[ $help == *--aws-sigv4* ]]; then
    WRITER=curl
  else
    log "this curl cannot sign requests (no --aws-sigv4, added in 7.75): reports go through the AWS CLI"
  fi
}

# The instance role's credentials from IMDSv2, kept until CREDENTIALS_MARGIN_S before they expire. They are
# never logged and never put on a command line (ps shows those to every user).
credentials() {
  local now_s
  now_s=$(date +%s)
  [ -n "$CREDENTIALS_KEY" ] && ((now_s < CREDENTIALS_DUE)) && return 0
  local token role document key secret session expiration expires
  token=$(imds_token) || {
    AWS_PROBLEM="no IMDSv2 token for the instance role's credentials"
    return 1
  }
  role=$(imds_get "$token" meta-data/iam/security-credentials/)
  role=${role%%$'\n'*}
  if [[ ! $role =~ ^[A-Za-z0-9+=,.@_-]{1,128}$ ]]; then
    AWS_PROBLEM="no instance role in IMDSv2 (meta-data/iam/security-credentials/)"
    return 1
  fi
  document=$(imds_get "$token" "meta-data/iam/security-credentials/$role")
  key=$(document_field AccessKeyId "$document")
  secret=$(document_field SecretAccessKey "$document")
  session=$(document_field Token "$document")
  expiration=$(document_field Expiration "$document")
  # base64-like values only: they go into curl's config between double quotes, unescaped
  if [ "$(document_field Code "$document")" != Success ] || [[ ! $key =~ ^[A-Z0-9]{16,128}$ ]] ||
    [[ ! $secret =~ ^[A-Za-z0-9/+=]+$ ]] || [[ ! $session =~ ^[A-Za-z0-9/+=]+$ ]] ||
    [[ ! $expiration =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]] || ! expires=$(date -d "$expiration" +%s 2>/dev/null); then
    AWS_PROBLEM="unexpected credentials of role $role from IMDSv2"
    return 1
  fi
  CREDENTIALS_KEY=$key
  CREDENTIALS_SECRET=$secret
  CREDENTIALS_TOKEN=$session
  CREDENTIALS_DUE=$((expires - CREDENTIALS_MARGIN_S))
  # credentials already that close to expiring: use them, and ask again in a minute, not at every write
  ((CREDENTIALS_DUE > now_s)) || CREDENTIALS_DUE=$((now_s + 60))
}

# PutItem of the item $1 through the DynamoDB JSON API
# (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html), signed by curl. Success is
# HTTP 200; otherwise AWS_PROBLEM says the status and DynamoDB's error type (its message is left out: a
# signature error's message quotes the signed headers, the session token among them).
curl_put_item() {
  credentials || return 1
  local endpoint=${DYNAMODB_ENDPOINT:-https://dynamodb.$REGION.$DOMAIN} out rc status type
  # the credentials reach curl as a config on its stdin, not on its command line
  out=$(printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' \
    "$CREDENTIALS_KEY" "$CREDENTIALS_SECRET" "$CREDENTIALS_TOKEN" |
    curl -s -K - --connect-timeout "$PUT_CONNECT_TIMEOUT" --max-time "$PUT_LIMIT" \
      --aws-sigv4 "aws:amz:$REGION:dynamodb" \
      -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: DynamoDB_20120810.PutItem' \
      --data-binary "{\"TableName\":$(json_string "$REPORT_TABLE"),\"Item\":$1}" \
      -w '\n%{http_code}' "$endpoint/")
  rc=$?
  status=${out##*$'\n'}
  case $rc in
    0) ;;
    28) AWS_PROBLEM="no answer from $endpoint within $PUT_LIMIT s" && return 1 ;;
    *) AWS_PROBLEM="curl exit $rc reaching $endpoint" && return 1 ;;
  esac
  [ "$status" = 200 ] && return 0
  local pattern='"__type"[[:space:]]*:[[:space:]]*"([^"]*)"'
  [[ $out =~ $pattern ]] && type=${BASH_REMATCH[1]##*#}
  AWS_PROBLEM="HTTP $status ${type:-without an error type}"
  # expired, revoked or rotated credentials: fetch them again before the next write
  case $status/${type:-} in
    403/* | */*Token* | */*Signature* | */UnrecognizedClient* | */AccessDenied* | */*Authentication*)
      CREDENTIALS_KEY=''
      ;;
  esac
  return 1
}

put_item() {
  if [ "$WRITER" = curl ]; then
    curl_put_item "$1"
  else
    local endpoint=()
    [ -z "$DYNAMODB_ENDPOINT" ] || endpoint=(--endpoint-url "$DYNAMODB_ENDPOINT")
    aws_call dynamodb put-item --table-name "$REPORT_TABLE" --item "$1" "${endpoint[@]}"
  fi
}

# The check at which to try again after the $1-th consecutive failure of an attempt made at check $2 (default
# this one): the next one, then 2, 4, 8... checks later, at most RETRY_CAP_MS worth of checks.
retry_check() {
  local n=$1 base=${2:-$CHECKS} cap=$((RETRY_CAP_MS / INTERVAL_MS)) delay
  ((n > 16)) && n=16
  delay=$((1 << (n - 1)))
  ((cap < 1)) && cap=1
  ((delay > cap)) && delay=$cap
  echo $((base + delay))
}

CHECKS=0
REPORTS_SENT=0 LAST_REPORT_AT=0 REPORT_FAILURES=0 REPORT_RETRY_CHECK=0 REPORTED_TUNNEL=''

report_item() {
  local kind=$1 at=$2 tunnel=$3
  printf '{"member":{"S":%s},"instanceId":{"S":%s},"verdict":{"S":%s},"detail":{"S":%s},"exitStatus":{"N":"%d"},' \
    "$(json_string "$MEMBER")" "$(json_string "$INSTANCE_ID")" "$(json_string "$CURRENT")" \
    "$(json_string "$CURRENT_LINE")" "$CURRENT_STATUS"
  [ -z "$tunnel" ] || printf '"tunnelUp":{"N":"%d"},' "$tunnel"
  printf '"since":{"N":"%d"},"at":{"N":"%d"},"kind":{"S":%s},"seq":{"N":"%d"},"agentVersion":{"S":%s},"expiresAt":{"N":"%d"}}' \
    "$SINCE" "$at" "$(json_string "$kind")" $((REPORTS_SENT + 1)) "$(json_string "$AGENT_VERSION")" \
    $((at / 1000 + REPORT_TTL_S))
}

report() {
  [ -n "$REPORT_TABLE" ] && [ -n "$CURRENT" ] || return 0
  local now kind tunnel
  now=$(now_ms)
  tunnel=$(tunnel_up)
  if ((CHANGE_PENDING)); then
    kind=change
  elif ((now - LAST_REPORT_AT >= HEARTBEAT_MS)) || [ "$tunnel" != "$REPORTED_TUNNEL" ]; then
    # a TunnelUp that changed while the verdict holds (PING_TARGET) is re-stated at once: the controller takes an
    # up tunnel from the report, and the stream does not invoke it for a heartbeat
    kind=heartbeat
  else
    return 0
  fi
  ((CHECKS >= REPORT_RETRY_CHECK)) || return 0
  if put_item "$(report_item "$kind" "$now" "$tunnel")"; then
    REPORTS_SENT=$((REPORTS_SENT + 1))
    LAST_REPORT_AT=$now
    REPORTED_TUNNEL=$tunnel
    CHANGE_PENDING=0
    REPORT_FAILURES=0
    REPORT_RETRY_CHECK=0
    log "report $kind #$REPORTS_SENT: $CURRENT_LINE"
  else
    REPORT_FAILURES=$((REPORT_FAILURES + 1))
    REPORT_RETRY_CHECK=$(retry_check "$REPORT_FAILURES")
    log "report $kind not written ($AWS_PROBLEM), trying again in $((REPORT_RETRY_CHECK - CHECKS)) check(s)"
  fi
}

NEXT_METRIC=0 METRIC_FAILURES=0 METRIC_RETRY_CHECK=0 METRIC_JOB='' METRIC_JOB_CHECK=0
# Datapoints taken and not yet sent (MetricDatum JSON), those in the PutMetricData in flight, the value taken
# last, and whether the held ones are due. At most METRIC_HELD_MAX are held while CloudWatch refuses them (an
# hour at the default interval), the oldest dropped first.
METRIC_HELD=() METRIC_SENDING=() METRIC_LAST='' METRIC_DUE=0
readonly METRIC_HELD_MAX=60

# One TunnelUp datapoint of value $1 taken at epoch ms $2, as a MetricDatum
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html).
metric_datum() {
  local at
  at=$(date -u -d "@$(($2 / 1000))" +%Y-%m-%dT%H:%M:%S)
  printf '{"MetricName":%s,"Dimensions":[{"Name":"InstanceId","Value":%s}],"Timestamp":"%s.%03dZ","Value":%d,"Unit":"Count","StorageResolution":%d}' \
    "$(json_string "$METRIC_NAME")" "$(json_string "$INSTANCE_ID")" "$at" $(($2 % 1000)) "$1" "$STORAGE_RESOLUTION"
}

# Runs in the background: the checks and the reports do not wait for CloudWatch. $1 is the values sent, for the log.
put_metric() {
  local IFS=,
  local data="[${METRIC_SENDING[*]}]"
  if aws_call cloudwatch put-metric-data --namespace "$NAMESPACE" --metric-data "$data"; then
    log "published $METRIC_NAME=$1 for $INSTANCE_ID"
  else
    log "$METRIC_NAME=$1 not published ($AWS_PROBLEM)"
    return 1
  fi
}

# Take the outcome of the publication in flight once it has finished (with "wait", as soon as it finishes).
# A failed one goes back in front of the held datapoints, due again at the check after the one that started it,
# then after 2, 4, 8... checks.
collect_metric() {
  [ -n "$METRIC_JOB" ] || return 0
  [ "${1:-}" = wait ] || ! kill -0 "$METRIC_JOB" 2>/dev/null || return 0
  if wait "$METRIC_JOB"; then
    METRIC_FAILURES=0
    METRIC_RETRY_CHECK=0
  else
    METRIC_FAILURES=$((METRIC_FAILURES + 1))
    METRIC_RETRY_CHECK=$(retry_check "$METRIC_FAILURES" "$METRIC_JOB_CHECK")
    METRIC_HELD=("${METRIC_SENDING[@]}" "${METRIC_HELD[@]}")
    METRIC_DUE=1
  fi
  METRIC_SENDING=()
  METRIC_JOB=''
}

# Take a TunnelUp datapoint every METRIC_INTERVAL; send the held ones when one is due. Datapoints wait for a
# batch only while the reports reach the table (the last write succeeded): the controller then reads an up
# tunnel from the report; without them it reads the metric, which must be current.
publish() {
  ((PUBLISH)) || return 0
  collect_metric
  [ -n "$CURRENT" ] || return 0
  local now value batch=1
  [ -n "$REPORT_TABLE" ] && ((REPORTS_SENT > 0 && REPORT_FAILURES == 0)) && batch=$METRIC_BATCH
  now=$(now_ms)
  if ((now >= NEXT_METRIC)); then
    # On a fixed grid, so datapoints stay METRIC_INTERVAL apart however long each check takes.
    NEXT_METRIC=$((NEXT_METRIC + METRIC_MS))
    ((NEXT_METRIC > now)) || NEXT_METRIC=$((now + METRIC_MS))
    value=$(tunnel_up)
    if [ -z "$value" ]; then
      log "$METRIC_NAME not taken: $CURRENT_LINE"
    else
      METRIC_HELD+=("$(metric_datum "$value" "$now")")
      ((${#METRIC_HELD[@]} <= METRIC_HELD_MAX)) || METRIC_HELD=("${METRIC_HELD[@]:1}")
      if [ "$value" != 1 ] || [ "$value" != "$METRIC_LAST" ] || ((${#METRIC_HELD[@]} >= batch)); then
        METRIC_DUE=1
      fi
      METRIC_LAST=$value
    fi
  fi
  [ -z "$METRIC_JOB" ] && ((METRIC_DUE && CHECKS >= METRIC_RETRY_CHECK)) || return 0
  METRIC_SENDING=("${METRIC_HELD[@]}")
  METRIC_HELD=()
  METRIC_DUE=0
  put_metric "$(metric_values)" &
  METRIC_JOB=$!
  METRIC_JOB_CHECK=$CHECKS
}

# The values of the datapoints in flight, comma-separated, for the log.
metric_values() {
  local datum values=''
  for datum in "${METRIC_SENDING[@]}"; do
    datum=${datum##*\"Value\":}
    values+="${values:+,}${datum%%,*}"
  done
  printf '%s' "$values"
}

# On stop: the datapoints still held go out now (once, in the foreground), so a restart leaves no gap.
stop() {
  collect_metric wait
  if ((PUBLISH)) && ((${#METRIC_HELD[@]} > 0)); then
    METRIC_SENDING=("${METRIC_HELD[@]}")
    put_metric "$(metric_values)"
  fi
  log "stopped"
  exit 0
}

main() {
  read_settings
  trap stop TERM INT
  choose_writer
  local metric="$METRIC_NAME to $NAMESPACE every $METRIC_INTERVAL s, $METRIC_BATCH to a request while up"
  ((PUBLISH)) || metric="no $METRIC_NAME ($NAMESPACE is AWS's own)"
  log "started (version $AGENT_VERSION): $PROBE check every $CHECK_INTERVAL s, ${REPORT_TABLE:+reports to $REPORT_TABLE through $WRITER, }$metric"
  local started wait interval
  while :; do
    started=$(now_ms)
    CHECKS=$((CHECKS + 1))
    check_daemon
    debounce
    if [ -z "$MEMBER" ]; then
      if identify; then
        log "this member is $MEMBER"
      elif [ "$IMDS_PROBLEM" != "$IMDS_LOGGED" ]; then
        log "cannot tell which instance this is ($IMDS_PROBLEM); asking again at every check"
        IMDS_LOGGED=$IMDS_PROBLEM
      fi
    fi
    if [ -n "$MEMBER" ]; then
      refresh_ping
      report
      publish
    fi
    if [ -n "$AGENT_MAX_CHECKS" ] && ((CHECKS >= AGENT_MAX_CHECKS)); then
      collect_metric wait
      return 0
    fi
    interval=$INTERVAL_MS
    # A verdict that differs from the reported one is looked at again sooner: the debounce still wants
    # DEBOUNCE agreeing checks, but a change need not wait whole intervals to be confirmed.
    if [ "$CANDIDATE" != "$CURRENT" ] && ((AGREEING < DEBOUNCE && RECHECK_MS < interval)); then
      interval=$RECHECK_MS
    fi
    wait=$((started + interval - $(now_ms)))
    ((wait <= 0)) || sleep "$(seconds "$wait")"
  done
}

main "$@"
