import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { AGENT_HEARTBEAT_MS, agentMemberKey } from '../../shared/domain/agent.ts';
import type { Role } from '../../shared/domain/types.ts';
import type { SimAccount } from '../../sim/account.ts';
import type { StreamEvent, WrittenReport } from '../../sim/agent.ts';
import type { MemberFault } from '../../sim/faults.ts';
import { metricKey } from '../../sim/world-model.ts';
import { advance, pairConfig, settle, useAccounts } from './helpers.ts';

const PRIMARY = 'i-0123456789abcdef0';
const STANDBY = 'i-0fedcba9876543210';

const accountWith = useAccounts();

/** Record every report and stream event of an account from now on, with the virtual ms they happened at. */
function record(account: SimAccount) {
  const reports: (WrittenReport & { writtenAt: number })[] = [];
  const streamed: { at: number; event: StreamEvent }[] = [];
  account.agents.onReport((report) => reports.push({ ...report, writtenAt: account.clock.now() }));
  account.agents.onStream((event) => streamed.push({ at: account.clock.now(), event }));
  return { reports, streamed, changes: () => reports.filter((r) => r.kind === 'change') };
}

const fault = (account: SimAccount, role: Role, kind: MemberFault) =>
  account.world.applyFault(account.world.member('branch-a', role), kind);

/** TunnelUp datapoints a member put at or after `from`. */
const datapointsSince = (account: SimAccount, instanceId: string, from: number) =>
  (account.world.metrics.get(metricKey('VpnFailover', 'TunnelUp', { InstanceId: instanceId })) ?? []).filter(
    (d) => d.at >= from,
  );

describe('the member agent in the simulated account', () => {
  it('starts in a steady state: each member has its healthy report in the agent table under its own instance ARN, and heartbeats once a minute without invoking the controller', async () => {
    const account = await accountWith();
    const seen = record(account);
    const key = agentMemberKey(account.agents.memberKeyPrefix, PRIMARY);
    expect(key).toBe(`arn:aws:ec2:eu-west-1:123456789012:instance/${PRIMARY}`);
    const stored = await settle(
      account,
      account.clients.dynamo.send(
        new GetCommand({ TableName: account.agents.tableName, Key: { member: key } }),
      ),
    );
    expect(stored.Item).toMatchObject({
      member: key,
      instanceId: PRIMARY,
      verdict: 'healthy',
      exitStatus: 0,
      tunnelUp: 1,
      kind: 'heartbeat',
      agentVersion: 'sim',
    });
    expect(stored.Item?.expiresAt).toBe(Math.floor((stored.Item?.at as number) / 1000) + 86_400);

    await advance(account, 3 * AGENT_HEARTBEAT_MS);
    const primaryBeats = seen.reports.filter((r) => r.instanceId === PRIMARY);
    expect(primaryBeats.length).toBeGreaterThanOrEqual(2);
    expect(primaryBeats.every((r) => r.kind === 'heartbeat' && r.verdict === 'healthy')).toBe(true);
    // One heartbeat a minute, give or take the check loop's own pace, and seq counts up by one each.
    for (let i = 1; i < primaryBeats.length; i++) {
      const [before, after] = [primaryBeats[i - 1], primaryBeats[i]] as [WrittenReport, WrittenReport];
      expect(after.at - before.at).toBeGreaterThanOrEqual(AGENT_HEARTBEAT_MS);
      expect(after.at - before.at).toBeLessThan(AGENT_HEARTBEAT_MS + 3000);
      expect(after.seq).toBe(before.seq + 1);
    }
    expect(seen.streamed).toEqual([]);
  });

  it('reports a dead daemon as a change within seconds, and the stream hands the controller a standard DynamoDB Streams record keyed by the sender', async () => {
    const account = await accountWith();
    const seen = record(account);
    await advance(account, 10_000);
    const faultAt = account.clock.now();
    fault(account, 'primary', 'daemon-down');
    await advance(account, 10_000);

    const [change, ...more] = seen.changes();
    expect(more).toEqual([]);
    expect(change).toMatchObject({ instanceId: PRIMARY, verdict: 'unhealthy', exitStatus: 1 });
    expect(change?.detail).toBe(
      'unhealthy: 0 installed CHILD SAs, 0 IKE SAs established (at least 1 required)',
    );
    // Two agreeing checks a second apart (the first within a second of the fault), then the write.
    const latency = account.latency.agent;
    const slowest = 2 * latency.checkInterval + 2 * latency.checkCommand[1] + latency.reportWrite[1];
    expect((change?.writtenAt ?? Infinity) - faultAt).toBeLessThanOrEqual(slowest);
    expect(change?.since).toBeGreaterThanOrEqual(faultAt);

    expect(seen.streamed).toHaveLength(1);
    const [delivery] = seen.streamed;
    const lag = (delivery?.at ?? 0) - (change?.writtenAt ?? 0);
    expect(lag).toBeGreaterThanOrEqual(latency.stream[0]);
    expect(lag).toBeLessThanOrEqual(latency.stream[1]);
    const key = agentMemberKey(account.agents.memberKeyPrefix, PRIMARY);
    expect(delivery?.event.Records).toEqual([
      expect.objectContaining({
        eventSource: 'aws:dynamodb',
        eventName: 'MODIFY',
        awsRegion: 'eu-west-1',
        eventSourceARN: expect.stringMatching(
          new RegExp(`^arn:aws:dynamodb:eu-west-1:123456789012:table/${account.agents.tableName}/stream/`),
        ),
        dynamodb: expect.objectContaining({
          Keys: { member: { S: key } },
          StreamViewType: 'NEW_IMAGE',
          NewImage: expect.objectContaining({
            member: { S: key },
            instanceId: { S: PRIMARY },
            verdict: { S: 'unhealthy' },
            exitStatus: { N: '1' },
            tunnelUp: { N: '0' },
            kind: { S: 'change' },
            since: { N: String(change?.since) },
            at: { N: String(change?.at) },
            seq: { N: String(change?.seq) },
          }),
        }),
      }),
    ]);
  });

  it('reports a hung daemon as not responding after one timed-out check, as the agent protocol allows', async () => {
    const account = await accountWith();
    const seen = record(account);
    await advance(account, 10_000);
    const faultAt = account.clock.now();
    fault(account, 'primary', 'daemon-hang');
    await advance(account, 10_000);
    const [change] = seen.changes();
    expect(change).toMatchObject({ instanceId: PRIMARY, verdict: 'unhealthy', exitStatus: 4 });
    expect(change?.detail).toMatch(
      /^unhealthy: daemon not responding: 'swanctl --list-sas' did not answer within 1 s/,
    );
    const latency = account.latency.agent;
    // The check under way may finish first; the next one starts within a check interval and times out.
    const slowest =
      latency.checkCommand[1] + latency.checkInterval + latency.checkTimeout + latency.reportWrite[1];
    expect((change?.writtenAt ?? Infinity) - faultAt).toBeLessThanOrEqual(slowest);
  });

  it('reports nothing for a daemon blip shorter than its confirming re-check (debounce), under a systemd probe', async () => {
    const account = await accountWith(pairConfig({ probe: { kind: 'systemd', unit: 'strongswan' } }));
    const seen = record(account);
    await advance(account, 10_000);
    fault(account, 'primary', 'daemon-down');
    await advance(account, 400);
    fault(account, 'primary', 'daemon-up');
    await advance(account, 20_000);
    expect(seen.changes()).toEqual([]);
    expect(seen.streamed).toEqual([]);

    // The same outage held for a few checks is reported, and its end too.
    fault(account, 'primary', 'daemon-down');
    await advance(account, 5000);
    fault(account, 'primary', 'daemon-up');
    await advance(account, 5000);
    expect(seen.changes().map((r) => [r.instanceId, r.verdict, r.detail])).toEqual([
      [PRIMARY, 'unhealthy', 'unhealthy: strongswan is inactive'],
      [PRIMARY, 'healthy', 'healthy: strongswan is active'],
    ]);
  });

  it('agent-stop silences the agent and its TunnelUp datapoints and changes nothing else; agent-start brings a fresh agent that reports its verdict as a change', async () => {
    const account = await accountWith();
    const seen = record(account);
    await advance(account, 5000);
    expect(fault(account, 'primary', 'agent-stop')).toBeUndefined();
    const stoppedAt = account.clock.now();
    // An outage while the agent is gone: nobody reports it.
    fault(account, 'primary', 'daemon-down');
    await advance(account, 4 * 60_000);
    expect(seen.reports.filter((r) => r.instanceId === PRIMARY && r.writtenAt > stoppedAt + 2000)).toEqual(
      [],
    );
    expect(datapointsSince(account, PRIMARY, stoppedAt)).toEqual([]);
    expect(datapointsSince(account, STANDBY, stoppedAt).length).toBeGreaterThanOrEqual(3);
    const primary = account.world.member('branch-a', 'primary');
    expect(account.world.agentOnline(primary)).toBe(true);
    expect(fault(account, 'primary', 'agent-stop')).toBe('the member agent is already stopped');

    const startedAt = account.clock.now();
    expect(fault(account, 'primary', 'agent-start')).toBeUndefined();
    await advance(account, 70_000);
    const fresh = seen.reports.filter((r) => r.instanceId === PRIMARY && r.writtenAt >= startedAt);
    expect(fresh[0]).toMatchObject({ kind: 'change', verdict: 'unhealthy', seq: 1 });
    expect(datapointsSince(account, PRIMARY, startedAt).length).toBeGreaterThanOrEqual(1);
  });

  it('falls silent when the OS hangs or the instance stops, and starts again with the instance after boot', async () => {
    const account = await accountWith();
    const seen = record(account);
    await advance(account, 5000);
    fault(account, 'standby', 'os-hang');
    const hungAt = account.clock.now();
    await advance(account, 3 * 60_000);
    expect(seen.reports.filter((r) => r.instanceId === STANDBY && r.writtenAt > hungAt + 2000)).toEqual([]);
    expect(datapointsSince(account, STANDBY, hungAt)).toEqual([]);

    fault(account, 'primary', 'agent-stop');
    fault(account, 'primary', 'stop');
    await advance(account, 120_000);
    const startAt = account.clock.now();
    fault(account, 'primary', 'start');
    await advance(account, 3 * 60_000);
    const afterBoot = seen.reports.filter((r) => r.instanceId === PRIMARY && r.writtenAt > startAt);
    expect(afterBoot[0]).toMatchObject({ kind: 'change', seq: 1 });
    expect(afterBoot.at(-1)?.verdict).toBe('healthy');
  });

  it('runs no reporting agent on a pair with the agent disabled: no report, no stream, and its members still publish TunnelUp', async () => {
    const account = await accountWith(pairConfig({}, { agent: { enabled: false, instanceRoles: [] } }));
    const seen = record(account);
    expect(account.agents.pairs()).toEqual([]);
    fault(account, 'primary', 'daemon-down');
    await advance(account, 3 * 60_000);
    expect(seen.reports).toEqual([]);
    expect(seen.streamed).toEqual([]);
    expect(datapointsSince(account, PRIMARY, account.clock.start).length).toBeGreaterThanOrEqual(3);
  });
});
