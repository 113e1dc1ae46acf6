import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runFailover } from '../../cli/control.ts';
import { OPERATOR_EXIT } from '../../cli/operator.ts';
import { runStatus, type StatusOptions, type StatusReport } from '../../cli/status.ts';
import { loadConfigFile } from '../../shared/config/file.ts';
import {
  capture,
  createOperatorAccount,
  DEPLOYMENT,
  errors,
  type OperatorAccount,
  STACK,
  settle,
  text,
} from './operator-account.ts';

/**
 * `vpn-failover status` against the simulated account: where the routes send traffic, each member's health from
 * EC2 and CloudWatch, the controller's memory from the state table, the last move from its history. Read-only.
 */

const CONFIG = 'examples/pairs.yaml';
const config = loadConfigFile(CONFIG);
const pair = config.pairs[0] as (typeof config.pairs)[number];
let op: OperatorAccount;

beforeEach(async () => {
  op = await createOperatorAccount(config);
});
afterEach(async () => {
  await op.close();
});

const options = (overrides: Partial<StatusOptions> = {}): StatusOptions => ({ config: CONFIG, ...overrides });

async function statusJson(): Promise<StatusReport> {
  const io = capture();
  expect(await settle(op.account, () => runStatus(undefined, options({ json: true }), io, op.deps))).toBe(0);
  return JSON.parse(text(io)) as StatusReport;
}

describe('vpn-failover status', () => {
  it('on a fresh deployment shows every route on the primary, both members healthy, nothing raised, no intent yet', async () => {
    const report = await statusJson();

    expect(report).toMatchObject({ stack: STACK, deployment: DEPLOYMENT, alarms: [], problems: [] });
    expect(report.configDrift).toBeUndefined();
    const [shown] = report.pairs;
    expect(shown).toMatchObject({
      pair: 'branch-a',
      traffic: 'primary',
      alarms: [],
      problems: [],
    });
    // The controller has not run for the pair: the state table holds no intent yet.
    expect(shown?.intended).toBeUndefined();
    expect(shown?.routes).toHaveLength(pair.routeTables.length * pair.destinations.length);
    expect(shown?.routes.every((r) => r.to === 'primary' && !r.blackhole)).toBe(true);
    expect(shown?.members.primary).toMatchObject({
      instanceId: pair.primary.instanceId,
      state: 'running',
      health: 'healthy',
      unhealthyCount: { daemon: 0, tunnel: 0 },
    });
    expect(Object.keys(shown?.members.primary.signals ?? {})).toEqual(['instance', 'tunnel']);
    expect(shown?.lastMove).toBeUndefined();
  });

  it('reads nothing but reads: no route write, no state-table write, no command sent to a member', async () => {
    const writes: string[] = [];
    op.account.onCall((call) => {
      if (!/^(Get|BatchGet|Query|Describe|List)/.test(call.action))
        writes.push(`${call.service} ${call.action}`);
    });

    await statusJson();

    expect(writes).toEqual([]);
    expect(op.account.stats.calls.get('SSM SendCommand')).toBeUndefined();
  });

  it('after an operator failover shows traffic on the standby, the intent, and the last move with its reason', async () => {
    const moved = capture();
    expect(await settle(op.account, () => runFailover('branch-a', { to: 'standby' }, moved, op.deps))).toBe(
      OPERATOR_EXIT.ok,
    );

    const report = await statusJson();

    const [shown] = report.pairs;
    expect(shown).toMatchObject({ traffic: 'standby', intended: 'standby' });
    expect(shown?.routes.every((r) => r.to === 'standby')).toBe(true);
    expect(shown?.lastMove).toMatchObject({
      plan: 'failover',
      from: 'primary',
      to: 'standby',
      trigger: 'manual',
    });
    expect(shown?.lastMove?.reasons.join(' ')).toMatch(/operator/i);
  });

  it('shows a stopped primary as a hard loss while the routes still send it traffic', async () => {
    const primary = op.account.world.instances.get(pair.primary.instanceId);
    if (!primary) throw new Error('no primary in the simulated account');
    op.account.world.applyFault(primary, 'stop');
    await op.account.clock.runUntil(op.account.clock.now() + 120_000);

    const io = capture();
    expect(await settle(op.account, () => runStatus('branch-a', options(), io, op.deps))).toBe(0);

    const out = text(io);
    expect(out).toContain('branch-a: traffic on primary (4 of 4 routes)');
    expect(out).toMatch(/primary i-0123456789abcdef0 {2}stopped, .*: unhealthy/);
    expect(out).toMatch(/instance unhealthy: .*stopped/);
    expect(out).toContain('BLACKHOLE');
  });

  it("shows each member as the controller last decided it, its probe's daemon verdict included, beside what it reads now", async () => {
    await op.evaluate();
    const before = await statusJson();
    const standby = op.account.world.member('branch-a', 'standby');
    op.account.world.applyFault(standby, 'daemon-down');
    await op.account.clock.runUntil(op.account.clock.now() + 60_000);
    await op.evaluate();
    const io = capture();

    const report = await statusJson();
    expect(await settle(op.account, () => runStatus('branch-a', options(), io, op.deps))).toBe(0);

    expect(before.pairs[0]?.members.standby.decided).toEqual({
      health: 'healthy',
      signals: { instance: 'healthy', daemon: 'healthy', tunnel: 'healthy' },
    });
    const [shown] = report.pairs;
    // Read now: the daemon is not probed, so only the instance and tunnel signals are judged.
    expect(Object.keys(shown?.members.standby.signals ?? {})).toEqual(['instance', 'tunnel']);
    expect(shown?.members.standby.decided).toMatchObject({
      health: 'unhealthy',
      signals: { instance: 'healthy', daemon: 'unhealthy' },
    });
    expect(shown?.members.primary.decided?.health).toBe('healthy');
    expect(shown?.alarms).toEqual(['standby-unhealthy']);
    expect(text(io)).toMatch(
      /standby i-0fedcba9876543210 .*\n(?: {12}.*\n)* {12}controller's last verdict: unhealthy \(instance healthy, daemon unhealthy, tunnel \w+\)\n/,
    );
    expect(text(io)).toContain('  alarms: standby-unhealthy\n');
  });

  it('before the controller has looked at a pair, says it has stored no verdict', async () => {
    const io = capture();

    expect(await settle(op.account, () => runStatus('branch-a', options(), io, op.deps))).toBe(0);

    expect(text(io)).toContain("controller's last verdict: none stored yet");
    expect((await statusJson()).pairs[0]?.members.primary.decided).toBeUndefined();
  });

  it('says when the configuration file is not the one deployed', async () => {
    op.outputs = { ...(op.outputs as Record<string, string>), ConfigHash: '0000000000000000' };

    const report = await statusJson();

    expect(report.configDrift).toMatch(/not the one deployed \(0000000000000000\)/);
  });

  it('lists the deployment’s alarms in ALARM, and not those that are OK', async () => {
    op.alarms.push(
      {
        AlarmName: `${DEPLOYMENT}.alarm.standby-unhealthy`,
        StateValue: 'ALARM',
        StateReason: 'Threshold Crossed',
      },
      { AlarmName: `${DEPLOYMENT}.alarm.foreign-route`, StateValue: 'OK' },
    );

    const report = await statusJson();

    expect(report.alarms?.map((a) => a.name)).toEqual([`${DEPLOYMENT}.alarm.standby-unhealthy`]);
  });

  it('--watch redraws plain blocks off a terminal until Ctrl-C, then exits 0', async () => {
    const stop = new AbortController();
    const io = capture();
    let draws = 0;
    const counting = {
      ...io,
      stdout: (chunk: string) => {
        io.stdout(chunk);
        if (chunk.includes('branch-a:')) draws++;
        if (draws === 3) stop.abort();
      },
    };

    const code = await settle(op.account, () =>
      runStatus('branch-a', options({ watch: '5' }), counting, { ...op.deps, interrupt: stop.signal }),
    );

    expect(code).toBe(0);
    expect(draws).toBe(3);
    expect(text(io)).not.toContain('\x1b[');
    expect(text(io).split(`${STACK} (deployment`)).toHaveLength(4);
  });

  it('--watch says when one look fails and carries on with the next', async () => {
    const stop = new AbortController();
    const io = capture();
    let draws = 0;
    const counting = {
      ...io,
      stdout: (chunk: string) => {
        io.stdout(chunk);
        if (!chunk.includes('branch-a:')) return;
        draws++;
        // The state table fails every call for the next look only.
        const now = op.account.clock.now();
        if (draws === 1) op.account.addStateStoreFault({ rate: 1, from: now + 1_000, until: now + 20_000 });
        if (draws === 2) stop.abort();
      },
    };

    const code = await settle(op.account, () =>
      runStatus('branch-a', options({ watch: '10' }), counting, { ...op.deps, interrupt: stop.signal }),
    );

    expect(code).toBe(0);
    expect(draws).toBe(2);
    expect(io.err).toHaveLength(1);
    expect(errors(io)).toMatch(/^vpn-failover status: \S+Z: .* \(trying again in 10s\)\n$/);
  });

  it('--watch on a terminal clears the screen before each redraw', async () => {
    const stop = new AbortController();
    const io = capture();
    const drawing = {
      ...io,
      stdout: (chunk: string) => {
        io.stdout(chunk);
        if (io.out.length === 2) stop.abort();
      },
    };

    await settle(op.account, () =>
      runStatus(undefined, options({ watch: true }), drawing, {
        ...op.deps,
        isTTY: true,
        interrupt: stop.signal,
      }),
    );

    expect(io.out).toHaveLength(2);
    expect(io.out.every((chunk) => chunk.startsWith('\x1b[H\x1b[2J'))).toBe(true);
  });

  it('without the stack says which stack it looked for and how to name another (exit 1)', async () => {
    op.outputs = undefined;
    const io = capture();

    expect(await settle(op.account, () => runStatus(undefined, options(), io, op.deps))).toBe(1);
    expect(errors(io)).toBe(
      'vpn-failover status: no stack VpnFailover in eu-west-1: deploy it (npx cdk deploy -c config=FILE), or name it with --stack NAME, --region or --profile\n',
    );
    expect(text(io)).toBe('');
  });

  it('rejects a pair the configuration does not have (exit 2), naming those it has', async () => {
    const io = capture();

    expect(await settle(op.account, () => runStatus('branch-z', options(), io, op.deps))).toBe(2);
    expect(errors(io)).toBe(
      'vpn-failover status: unknown pair "branch-z" in examples/pairs.yaml (configured: branch-a)\n',
    );
  });

  it('rejects a --watch interval that is not a number of seconds (exit 2)', async () => {
    const io = capture();

    expect(
      await settle(op.account, () => runStatus(undefined, options({ watch: 'often' }), io, op.deps)),
    ).toBe(2);
    expect(errors(io)).toContain('invalid --watch: expected a number of seconds, at least 1 (got "often")');
  });
});
