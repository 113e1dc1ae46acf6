import { describe, expect, it } from 'vitest';
import { type RecordedRun, runRecorded } from '../../sim/ground-truth.ts';
import type { SimEvent } from '../../sim/output.ts';
import { parseScenario } from '../../sim/scenario.ts';
import { checkInvariants } from '../support/invariants.ts';
import { pairConfig, scenarioOf } from './helpers.ts';

/**
 * Fixed fault schedules worth keeping: situations the property tests (properties.test.ts) found or that sit on
 * the edge of a rule. Each must keep every invariant and show the behaviour its name says.
 */

const of = <T extends SimEvent['type']>(run: RecordedRun, type: T) =>
  run.output.events.filter((e): e is Extract<SimEvent, { type: T }> => e.type === type);

const violationsOf = (run: RecordedRun) =>
  Object.values(checkInvariants(run)).flatMap((result) => result.violations.map((v) => v.message));

const allOn = (run: RecordedRun, pair: string, role: string) =>
  run.output.final.pairs[pair]?.routes.every((r) => r.to === role && r.state === 'active') === true;

describe('fixed fault schedules', () => {
  it('a crash after 1 of 4 route writes while 30 % of calls are throttled still ends with every route on the standby', async () => {
    const run = await runRecorded(
      scenarioOf({
        duration: '8m',
        crashAfterRouteWrites: 1,
        faults: [
          { at: '90s', target: '*', fault: 'api-throttling', rate: 0.3, for: '3m' },
          { at: '2m', target: 'branch-a/primary', fault: 'terminate' },
        ],
      }),
    );

    expect(of(run, 'controller-crash')).toEqual([
      expect.objectContaining({ reason: 'crash-after-route-writes', routeWrites: 1 }),
    ]);
    expect(allOn(run, 'branch-a', 'standby')).toBe(true);
    expect(violationsOf(run)).toEqual([]);
  });

  it('an operator failover to a standby whose daemon died a moment before is carried out when nothing the controller reads can tell (found by the property tests)', async () => {
    // No daemon probe, and the tunnel metric still shows the last minute's datapoint: the standby is healthy
    // as far as the controller can know, which is what invariant 2 judges by.
    const run = await runRecorded(
      parseScenario({
        name: 'operator failover onto a standby that just lost its daemon',
        seed: 1,
        duration: '6m',
        config: {
          pairs: [
            {
              name: 'branch-a',
              primary: { instanceId: 'i-00000000000000001' },
              standby: { instanceId: 'i-00000000000000002' },
              routeTables: ['rtb-000000000000000a0'],
              destinations: ['10.1.0.0/24'],
              probe: { kind: 'none' },
              tunnel: {
                namespace: 'VpnFailover/Tunnels',
                metricName: 'TunnelUp',
                period: 60,
                datapointsToBreach: 1,
              },
              unhealthyThreshold: 1,
              cooldown: '30s',
            },
          ],
          controller: { schedule: '1m', fastMode: { enabled: true, interval: '10s' }, probeTimeout: '10s' },
        },
        faults: [
          { at: 0, target: 'branch-a/standby', fault: 'daemon-down' },
          { at: 0, target: 'branch-a/primary', fault: 'api-throttling', rate: 0.1, for: '20s' },
          { at: 5, target: 'branch-a/standby', fault: 'daemon-up' },
        ],
        commands: [{ at: 0, command: 'failover', pair: 'branch-a', to: 'standby' }],
      }),
    );

    expect(of(run, 'failover')[0]).toMatchObject({ to: 'standby', trigger: 'manual' });
    expect(violationsOf(run)).toEqual([]);
  });

  it('a soft failure on the new active member right after a failover moves traffic back to the recovered primary at once: the cooldown holds only failback', async () => {
    const config = pairConfig({ cooldown: '4m', unhealthyThreshold: 2 });
    const run = await runRecorded(
      scenarioOf(
        {
          duration: '12m',
          faults: [
            { at: '1m', target: 'branch-a/primary', fault: 'daemon-down' },
            { at: '210s', target: 'branch-a/primary', fault: 'daemon-up' },
            { at: '4m', target: 'branch-a/standby', fault: 'daemon-down' },
          ],
        },
        config,
      ),
    );

    const moves = of(run, 'failover');
    expect(moves.map((m) => [m.to, m.trigger])).toEqual([
      ['standby', 'soft-failure'],
      ['primary', 'soft-failure'],
    ]);
    // The standby's daemon died at 4m, inside the 4m cooldown: traffic leaves it within the detection bound
    // (two evaluations plus the probe), not when the cooldown ends.
    expect((moves[1]?.t ?? Infinity) - 240).toBeLessThanOrEqual(2 * 60 + 20);
    expect((moves[1]?.t ?? Infinity) - (moves[0]?.t ?? 0)).toBeLessThan(240);
    expect(allOn(run, 'branch-a', 'primary')).toBe(true);
    expect(violationsOf(run)).toEqual([]);
  });

  it('two pairs sharing route tables: one pair losing its active member never touches the other pair’s routes', async () => {
    const shared = ['rtb-0a1b2c3d4e5f60718', 'rtb-0f1e2d3c4b5a69788'];
    const config = pairConfig({ routeTables: shared });
    const second = {
      name: 'branch-b',
      primary: { instanceId: 'i-0aaaaaaaaaaaaaaa1' },
      standby: { instanceId: 'i-0aaaaaaaaaaaaaaa2' },
      routeTables: shared,
      destinations: ['10.60.0.0/16'],
    };
    const run = await runRecorded(
      parseScenario({
        name: 'shared tables',
        duration: '6m',
        config: { pairs: [...config.pairs, second] },
        faults: [{ at: '1m', target: 'branch-a/primary', fault: 'stop' }],
      }),
    );

    expect(allOn(run, 'branch-a', 'standby')).toBe(true);
    expect(allOn(run, 'branch-b', 'primary')).toBe(true);
    expect(of(run, 'route-change').every((c) => c.pair === 'branch-a')).toBe(true);
    expect(violationsOf(run)).toEqual([]);
  });
});
