import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runFailover, runPause } from '../../cli/control.ts';
import { describeRecord, type HistoryLine, runHistory } from '../../cli/history.ts';
import { OPERATOR_EXIT } from '../../cli/operator.ts';
import { loadConfigFile } from '../../shared/config/file.ts';
import {
  capture,
  createOperatorAccount,
  errors,
  type OperatorAccount,
  settle,
  text,
} from './operator-account.ts';

/** `vpn-failover history` against the simulated account: the controller's history items, oldest first. */

const config = loadConfigFile('examples/pairs.yaml');
let op: OperatorAccount;

beforeEach(async () => {
  op = await createOperatorAccount(config);
});
afterEach(async () => {
  await op.close();
});

const later = (minutes: number) => op.account.clock.runUntil(op.account.clock.now() + minutes * 60_000);

describe('vpn-failover history', () => {
  it('lists the pause, the failover and the failback in time order, newest last, each with its reasons', async () => {
    await settle(op.account, () =>
      runPause('branch-a', { for: '1h', reason: 'carrier work' }, capture(), op.deps),
    );
    await later(1);
    await settle(op.account, () => runFailover('branch-a', { to: 'standby' }, capture(), op.deps));
    await later(10);
    await settle(op.account, () => runFailover('branch-a', { to: 'primary' }, capture(), op.deps));
    const io = capture();

    expect(await settle(op.account, () => runHistory('branch-a', { since: '24h' }, io, op.deps))).toBe(0);

    const out = text(io);
    const order = [
      'pause',
      'failover primary -> standby (manual)',
      'failback standby -> primary (manual)',
    ].map((line) => out.indexOf(line));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(out).toContain('reason: carrier work');
    expect(out).toMatch(/why: .*operator/i);
    expect(out).toContain('routes: 4 planned, 4 changed');
  });

  it('--json gives each record as stored, with its ISO time, oldest first', async () => {
    await settle(op.account, () => runFailover('branch-a', { to: 'standby' }, capture(), op.deps));
    await later(5);
    await settle(op.account, () => runFailover('branch-a', { to: 'primary' }, capture(), op.deps));
    const io = capture();

    await settle(op.account, () => runHistory('branch-a', { since: '1h', json: true }, io, op.deps));

    const shown = JSON.parse(text(io)) as { pair: string; since: string; entries: HistoryLine[] };
    expect(shown.pair).toBe('branch-a');
    expect(shown.entries.map((e) => [e.record.plan, e.record.to])).toEqual([
      ['failover', 'standby'],
      ['failback', 'primary'],
    ]);
    expect(Date.parse(shown.entries[0]?.at ?? '')).toBeLessThan(Date.parse(shown.entries[1]?.at ?? ''));
    expect(shown.entries[0]?.record).toMatchObject({ trigger: 'manual', routesPlanned: 4 });
  });

  it('shows an alarm when the controller raises it, with why, and again when it clears', async () => {
    await op.evaluate();
    const standby = op.account.world.member('branch-a', 'standby');
    op.account.world.applyFault(standby, 'stop');
    await later(2);
    await op.evaluate();
    op.account.world.start(standby);
    await later(10);
    await op.evaluate();
    const io = capture();
    const json = capture();

    await settle(op.account, () => runHistory('branch-a', { since: '1h' }, io, op.deps));
    await settle(op.account, () => runHistory('branch-a', { since: '1h', json: true }, json, op.deps));

    const out = text(io);
    expect(out).toMatch(
      /Z {2}alarm raised standby-unhealthy\n {4}standby-unhealthy: standby i-\w+, the member not carrying traffic, is unhealthy \(.*stopped.*\): no redundancy\n/,
    );
    expect(out).toMatch(/Z {2}alarm cleared standby-unhealthy\n?$/);
    expect(out.indexOf('alarm raised')).toBeLessThan(out.indexOf('alarm cleared'));
    const shown = JSON.parse(text(json)) as { entries: HistoryLine[] };
    expect(shown.entries.map((e) => e.record)).toEqual([
      {
        event: 'alarm',
        raised: [{ kind: 'standby-unhealthy', detail: expect.stringContaining('no redundancy') }],
        cleared: [],
      },
      { event: 'alarm', raised: [], cleared: ['standby-unhealthy'] },
    ]);
  });

  it('says which alarms a dry run raised and cleared in one line, each raised one with its detail below', () => {
    const record = {
      event: 'alarm',
      raised: [{ kind: 'traffic-blackholed', detail: 'primary i-1 carries traffic and is lost' }],
      cleared: ['paused'],
      dryRun: true,
    };

    expect(describeRecord({ at: Date.parse('2026-12-01T10:00:00Z'), record })).toBe(
      [
        '2026-12-01T10:00:00.000Z  alarm raised traffic-blackholed; cleared paused (dry run)',
        '    traffic-blackholed: primary i-1 carries traffic and is lost',
      ].join('\n'),
    );
  });

  it('--since leaves out what happened before the window', async () => {
    await settle(op.account, () => runFailover('branch-a', { to: 'standby' }, capture(), op.deps));
    await later(120);
    const io = capture();

    await settle(op.account, () => runHistory('branch-a', { since: '1h' }, io, op.deps));

    expect(text(io)).toMatch(/^branch-a: nothing recorded since /);
  });

  it('rejects a --since that is not a duration (exit 2)', async () => {
    const io = capture();

    expect(await settle(op.account, () => runHistory('branch-a', { since: 'yesterday' }, io, op.deps))).toBe(
      OPERATOR_EXIT.invalid,
    );
    expect(errors(io)).toBe(
      'vpn-failover history: invalid --since: expected a duration like 90m, 24h or 7d (got "yesterday")\n',
    );
  });
});
