import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TUNNEL_NAMESPACE } from '../../shared/telemetry-names.ts';
import { type Fakes, runWithFakes } from './stubs.ts';
import { configOf, EXAMPLE_PAIR } from './test-app.ts';

/** The tunnel-metric publisher shipped for self-managed VPNs, run against a fake IMDS, AWS CLI and daemons. */
const script = readFileSync(new URL('../../instance/vpn-failover-tunnel-metric.sh', import.meta.url), 'utf8');
const policy = JSON.parse(
  readFileSync(new URL('../../instance/publisher-policy.json', import.meta.url), 'utf8'),
);
const timer = readFileSync(
  new URL('../../instance/vpn-failover-tunnel-metric.timer', import.meta.url),
  'utf8',
);
const service = readFileSync(
  new URL('../../instance/vpn-failover-tunnel-metric.service', import.meta.url),
  'utf8',
);

/** IMDSv2: a token from PUT, then metadata only with that token. */
const imds = `
case "$*" in
  *"-X PUT"*api/token*) echo token-123 ;;
  *"X-aws-ec2-metadata-token: token-123"*meta-data/instance-id) echo i-0123456789abcdef0 ;;
  *"X-aws-ec2-metadata-token: token-123"*meta-data/placement/region) echo eu-west-1 ;;
  *) exit 22 ;;
esac`;

/** `swanctl --list-sas` with one IKE SA and `n` installed CHILD SAs. */
const installed = (n: number) =>
  `echo 'office: #1, ESTABLISHED, IKEv2, 8fb1fd1a2b8fca24_i* 2a6f1cc2cf0f7ba1_r'
i=1; while [ $i -le ${n} ]; do echo "  net-$i: #$i, reqid $i, INSTALLED, TUNNEL, ESP:AES_GCM_16-256"; i=$((i+1)); done`;

/** The daemon check as installed beside the publisher: the shipped script itself. */
const check = `exec sh '${new URL('../../instance/vpn-failover-check.sh', import.meta.url).pathname}'`;

const publish = (fakes: Fakes, env: Record<string, string> = {}) =>
  runWithFakes('bash', script, { curl: imds, aws: '', 'vpn-failover-check': check, ...fakes }, env);

const putMetricData = (calls: string[]) =>
  calls.filter((c) => c.startsWith('aws cloudwatch put-metric-data'));

describe('tunnel-metric publisher', () => {
  it('publishes TunnelUp=1 for this instance when strongSwan has the required SAs', () => {
    const run = publish({ swanctl: installed(1) });
    expect(run.status).toBe(0);
    expect(putMetricData(run.calls)).toEqual([
      'aws cloudwatch put-metric-data --region eu-west-1 --namespace VpnFailover/Tunnels --metric-name TunnelUp --dimensions InstanceId=i-0123456789abcdef0 --value 1 --unit Count --storage-resolution 60',
    ]);
  });

  it('publishes TunnelUp=0 when fewer CHILD SAs than required are installed', () => {
    const run = publish({ swanctl: installed(1) }, { MIN_SAS: '2' });
    expect(run.status).toBe(0);
    expect(putMetricData(run.calls)[0]).toContain('--value 0');
    expect(run.stdout).toContain('1 installed CHILD SAs, 1 IKE SAs established (at least 2 required)');
  });

  it('publishes TunnelUp=0 when IKE is up but no CHILD SA is installed (no traffic can cross)', () => {
    const run = publish({ swanctl: installed(0) });
    expect(putMetricData(run.calls)[0]).toContain('--value 0');
  });

  it('publishes TunnelUp=0 when the daemon hangs, within the check timeout', () => {
    const run = publish({ swanctl: 'sleep 30' }, { VPN_FAILOVER_CHECK_TIMEOUT: '0.3' });
    expect(putMetricData(run.calls)[0]).toContain('--value 0');
    expect(run.stdout).toContain('daemon not responding');
  });

  it('publishes TunnelUp=0 when the far side does not answer a ping across the tunnel', () => {
    const run = publish({ swanctl: installed(1), ping: 'exit 1' }, { PING_TARGET: '10.50.0.1' });
    expect(putMetricData(run.calls)[0]).toContain('--value 0');
    expect(run.calls).toContain('ping -c 3 -W 2 -q 10.50.0.1');
  });

  it('counts Libreswan SAs and checks systemd units', () => {
    const libreswan = publish(
      { ipsec: `echo '006 #2: "office", type=ESP, add_time=1'` },
      { PROBE: 'libreswan' },
    );
    expect(putMetricData(libreswan.calls)[0]).toContain('--value 1');
    const inactive = publish({ systemctl: 'exit 3' }, { PROBE: 'systemd', UNIT: 'ipsec' });
    expect(putMetricData(inactive.calls)[0]).toContain('--value 0');
    expect(inactive.calls).toContain('systemctl is-active -- ipsec');
  });

  it('fails without publishing anything when IMDSv2 does not answer', () => {
    const run = publish({ curl: 'exit 7', swanctl: installed(1) });
    expect(run.status).toBe(1);
    expect(putMetricData(run.calls)).toEqual([]);
  });

  it('fails (so systemd records it) when PutMetricData is refused', () => {
    const run = publish({ swanctl: installed(1), aws: 'echo AccessDenied >&2; exit 254' });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('PutMetricData failed');
  });

  it("publishes where the controller's tunnel signal looks by default", () => {
    const tunnel = configOf({ pairs: [{ ...EXAMPLE_PAIR, tunnel: {} }] }).pairs[0]?.tunnel;
    expect(tunnel).toMatchObject({
      namespace: TUNNEL_NAMESPACE,
      metricName: 'TunnelUp',
      threshold: 1,
      comparison: 'lessThan',
    });
    expect(script).toMatch(/^NAMESPACE="\$\{NAMESPACE:-VpnFailover\/Tunnels\}"$/m);
    expect(script).toMatch(/^METRIC_NAME="\$\{METRIC_NAME:-TunnelUp\}"$/m);
  });

  it('its instance policy allows only PutMetricData, only into the tunnel namespace, not the controller namespace', () => {
    expect(policy.Statement).toEqual([
      {
        Sid: 'PublishTunnelMetricOnly',
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': TUNNEL_NAMESPACE } },
      },
    ]);
  });

  it('runs every 60 seconds from boot as a one-shot service', () => {
    expect(timer).toMatch(/^OnUnitActiveSec=60s$/m);
    expect(timer).toMatch(/^OnBootSec=/m);
    expect(service).toMatch(/^Type=oneshot$/m);
    expect(service).toMatch(/^ExecStart=\/usr\/local\/bin\/vpn-failover-tunnel-metric$/m);
  });
});
