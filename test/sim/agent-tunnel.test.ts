import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { agentMemberKey } from '../../shared/domain/agent.ts';
import type { SimEvent, SimulateOutput } from '../../sim/output.ts';
import { runScenario } from '../../sim/run-scenario.ts';
import { TUNNEL_UP_BATCH, TunnelUpPublisher } from '../../sim/tunnel-publisher.ts';
import { metricKey } from '../../sim/world-model.ts';
import { advance, pairConfig, scenarioOf, settle, useAccounts } from './helpers.ts';

/**
 * The tunnel signal with the member agent: a fresh report that says the tunnel is up stands for the metric, so a
 * steady pair reads no tunnel metric; a tunnel going down is still judged on the metric's datapoints, which the
 * agent puts at once.
 */

const PRIMARY = 'i-0123456789abcdef0';
/** The tunnel metric the agent publishes (the schema's defaults: TunnelUp in VpnFailover/Tunnels). */
const AGENTS_METRIC = pairConfig({ tunnel: {} });
/** A metric the agent does not publish: AWS's own site-to-site VPN tunnel state. */
const AWS_VPN = pairConfig({
  tunnel: {
    namespace: 'AWS/VPN',
    metricName: 'TunnelState',
    dimensions: { primary: { TunnelIpAddress: '203.0.113.1' }, standby: { TunnelIpAddress: '203.0.113.2' } },
    statistic: 'Maximum',
  },
});

const metricReads = (output: SimulateOutput) => output.stats.apiCalls['CloudWatch GetMetricData'] ?? 0;
const of = <T extends SimEvent['type']>(output: SimulateOutput, type: T) =>
  output.events.filter((e): e is Extract<SimEvent, { type: T }> => e.type === type);

const accountWith = useAccounts();

describe('the tunnel signal of a pair with the member agent', () => {
  it('reads no tunnel metric for ten steady minutes when the metric is the agent’s own: the reports say the tunnels are up', async () => {
    const output = await runScenario(scenarioOf({ duration: '10m' }, AGENTS_METRIC));

    expect(output.stats.invocations).toBeGreaterThanOrEqual(10);
    expect(metricReads(output)).toBe(0);
    expect(of(output, 'failover')).toEqual([]);
  });

  it('still reads the metric every run when the pair’s metric is not the agent’s (AWS/VPN TunnelState)', async () => {
    const output = await runScenario(scenarioOf({ duration: '10m' }, AWS_VPN));

    expect(metricReads(output)).toBe(output.stats.invocations);
  });

  it('moves traffic off a tunnel that goes down as before, reading the metric once the report says it is down', async () => {
    const faults = [{ at: '125s', target: 'branch-a/primary', fault: 'tunnel-down' }];

    const output = await runScenario(scenarioOf({ duration: '5m', faults }, AGENTS_METRIC));

    const [failover] = of(output, 'failover');
    expect(failover).toMatchObject({ from: 'primary', to: 'standby', trigger: 'soft-failure' });
    expect((failover?.t ?? Infinity) - 125).toBeLessThan(15);
    expect(metricReads(output)).toBeGreaterThan(0);
  });

  it('rewrites the report at once when TunnelUp changes while the verdict holds (a systemd check does not see the tunnel)', async () => {
    const account = await accountWith(
      pairConfig({ tunnel: {}, probe: { kind: 'systemd', unit: 'strongswan' } }),
    );
    await advance(account, 5_000);
    account.world.applyFault(account.world.member('branch-a', 'primary'), 'tunnel-down');
    await advance(account, 5_000);

    const stored = await settle(
      account,
      account.clients.dynamo.send(
        new GetCommand({
          TableName: account.agents.tableName,
          Key: { member: agentMemberKey(account.agents.memberKeyPrefix, PRIMARY) },
        }),
      ),
    );
    expect(stored.Item).toMatchObject({ verdict: 'healthy', tunnelUp: 0, kind: 'heartbeat' });
  });

  it('puts an up tunnel’s datapoints five to a request, each with its own minute, and a down one at once', async () => {
    const account = await accountWith(AGENTS_METRIC);
    const series = () =>
      account.world.metrics.get(metricKey('VpnFailover/Tunnels', 'TunnelUp', { InstanceId: PRIMARY })) ?? [];
    const start = account.clock.now();
    await advance(account, 11 * 60_000);

    const put = series().filter((d) => d.at >= start);
    const visible = put.filter((d) => d.visibleAt <= account.clock.now());
    // the minutes are whole: one datapoint a minute, timestamped when taken
    expect(put.map((d) => Math.round((d.at - (put[0]?.at ?? 0)) / 60_000))).toEqual(put.map((_, i) => i));
    // and they went out in batches: each batch shares its send time
    expect(new Set(put.map((d) => d.visibleAt)).size).toBe(Math.ceil(put.length / TUNNEL_UP_BATCH));
    expect(visible.length).toBeGreaterThan(0);

    const downAt = account.clock.now();
    account.world.applyFault(account.world.member('branch-a', 'primary'), 'tunnel-down');
    await advance(account, 61_000);
    const down = series().find((d) => d.at >= downAt);
    expect(down?.value).toBe(0);
    expect((down?.visibleAt ?? Infinity) - (down?.at ?? 0)).toBeLessThan(
      account.latency.metrics.visibility[1] + 1,
    );
  });
});

describe('the agent’s TunnelUp publisher', () => {
  it('holds up datapoints until a batch is full, and sends a down or changed one at once with those it holds', () => {
    const publisher = new TunnelUpPublisher(TUNNEL_UP_BATCH);
    const minute = (n: number) => n * 60_000;

    const sent = [1, 2, 3, 4].map((n) => publisher.take(minute(n), 1));
    expect(sent).toEqual([[], [], [], []]);
    expect(publisher.take(minute(5), 1)).toEqual([1, 2, 3, 4, 5].map((n) => ({ at: minute(n), value: 1 })));
    expect(publisher.take(minute(6), 1)).toEqual([]);
    expect(publisher.take(minute(7), 0)).toEqual([
      { at: minute(6), value: 1 },
      { at: minute(7), value: 0 },
    ]);
    expect(publisher.take(minute(8), 0)).toEqual([{ at: minute(8), value: 0 }]);
    expect(publisher.take(minute(9), 1)).toEqual([{ at: minute(9), value: 1 }]);
    expect(publisher.take(minute(10), 1)).toEqual([]);
  });
});
