import { describe, expect, it } from 'vitest';
import { StateStore } from '../../shared/aws/state-store.ts';
import { parseConfig } from '../../shared/config/load.ts';
import type { Config } from '../../shared/config/schema.ts';
import { runRecorded } from '../../sim/ground-truth.ts';
import type { ObservedCall } from '../../sim/middleware.ts';
import type { SimEvent, SimulateOutput } from '../../sim/output.ts';
import { runScenario } from '../../sim/run-scenario.ts';
import { EVERY_PAIR, type Scenario } from '../../sim/scenario.ts';
import { checkInvariants } from '../support/invariants.ts';
import { fleetConfig } from '../support/mock-fleet.ts';
import { POLL_ONLY, pairConfig, scenarioOf } from './helpers.ts';

/** Fast mode at its documented default: the 1-minute schedule, an evaluation every 10 s. */
const FAST = { schedule: '1m', fastMode: { enabled: true, interval: '10s' }, probeTimeout: '15s' } as const;

const of = <T extends SimEvent['type']>(output: SimulateOutput, type: T) =>
  output.events.filter((e): e is Extract<SimEvent, { type: T }> => e.type === type);

/** The example pair in fast mode. */
const fastPair = (): Config => pairConfig({}, { controller: FAST });

/** `pairs` pairs of the test fleet in fast mode. */
const fastFleet = (pairs: number): Config =>
  parseConfig({ ...structuredClone(fleetConfig(pairs)), controller: FAST });

describe('fast mode', () => {
  it('starts an evaluation every 10 s across invocation boundaries: over five minutes no gap exceeds the interval plus the Scheduler’s delay', async () => {
    // Prepare: a steady pair; every evaluation starts by reading the pair's state from the state table (the
    // agent table is read too, by its own BatchGetItem).
    const starts: number[] = [];
    const scenario = scenarioOf({ duration: '5m' }, fastPair());

    // Act
    await runScenario(scenario, {
      prepare: (account) =>
        account.onCall((call: ObservedCall) => {
          const tables = Object.keys((call.input as { RequestItems?: object }).RequestItems ?? {});
          if (
            call.service === 'DynamoDB' &&
            call.action === 'BatchGetItem' &&
            tables.includes(account.tableName)
          )
            starts.push(call.at);
        }),
    });

    // Assess: the Scheduler's delay (up to 0.8 s) plus Lambda's start (up to 0.15 s) is the only slack.
    const gaps = starts.slice(1).map((at, i) => (at - (starts[i] as number)) / 1000);
    expect(starts.length).toBeGreaterThanOrEqual(29);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(10 + 1);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(10 - 1);
  });

  it('moves every route within seconds when the active primary stops between two evaluations', async () => {
    // Prepare: the stop falls 5 s into a 10 s slot, while the fast-mode invocation waits for its next one.
    const scenario = scenarioOf(
      { duration: '4m', faults: [{ at: '125s', target: 'branch-a/primary', fault: 'stop' }] },
      fastPair(),
    );

    // Act
    const output = await runScenario(scenario);

    // Assess: the EC2 event's invocation starts at once (no reserved concurrency to wait for) and moves.
    const moved = of(output, 'route-change').filter((r) => r.to === 'standby');
    expect(moved).toHaveLength(4);
    expect(Math.max(...moved.map((r) => r.t)) - 125).toBeLessThanOrEqual(6);
    expect(of(output, 'failover')).toHaveLength(1);
  });

  it('confirms a failed probe at the next 10 s slot, not a minute later', async () => {
    // Without the agent: the fast-mode slots are what see the failure (with it, its report comes first).
    const scenario = scenarioOf(
      { duration: '4m', faults: [{ at: '125s', target: 'branch-a/primary', fault: 'daemon-down' }] },
      pairConfig({}, { controller: FAST, ...POLL_ONLY }),
    );

    const output = await runScenario(scenario, { verbose: true });

    // Assess: the first failing evaluation comes at the next slot; the confirming one at the slot after.
    const [failover] = of(output, 'failover');
    expect(failover).toMatchObject({ trigger: 'soft-failure', to: 'standby' });
    const waiting = of(output, 'decision').find(
      (d) => d.t >= 125 && d.reasons.some((r) => r.includes('1/2')),
    );
    expect((failover?.t ?? Infinity) - (waiting?.t ?? 0)).toBeLessThan(10 + 2);
    expect((failover?.t ?? Infinity) - 125).toBeLessThanOrEqual(10 + 10 + 6);
  });
});

// Without the agent, so that the schedule and its re-checks are what sees a soft failure (with the agent, its
// report triggers an evaluation first: test/sim/agent-failover.test.ts).
describe('economy mode without the member agent', () => {
  it('confirms the first failed probe within the same scheduled invocation, about 23 s later rather than a minute', async () => {
    const scenario = scenarioOf(
      {
        duration: '5m',
        faults: [{ at: '125s', target: 'branch-a/primary', fault: 'daemon-down' }],
      },
      pairConfig({}, POLL_ONLY),
    );

    const output = await runScenario(scenario, { verbose: true });

    // Assess: the 3-minute invocation sees it first (1/2) and its re-check confirms it.
    const [failover] = of(output, 'failover');
    expect(failover).toMatchObject({ trigger: 'soft-failure', to: 'standby' });
    const waiting = of(output, 'decision').find(
      (d) => d.t >= 125 && d.reasons.some((r) => r.includes('1/2')),
    );
    expect(waiting?.trigger).toBe('schedule');
    expect((failover?.t ?? Infinity) - (waiting?.t ?? 0)).toBeGreaterThan(15);
    expect((failover?.t ?? Infinity) - (waiting?.t ?? 0)).toBeLessThan(30);
    expect(of(output, 'decision').find((d) => d.t === failover?.t)?.trigger).toBe('recheck');
  });

  it('moves nothing when the daemon restarts: its tunnels are back before the re-check', async () => {
    // The daemon is down a second; its SAs come back within 20 s, before the re-check 23 s after the reading.
    const faults = [
      { at: '3m', target: 'branch-a/primary', fault: 'daemon-down' },
      { at: '181s', target: 'branch-a/primary', fault: 'daemon-up' },
    ];
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const output = await runScenario(
        scenarioOf({ duration: '6m', seed, faults }, pairConfig({}, POLL_ONLY)),
        {
          verbose: true,
        },
      );
      expect(of(output, 'failover'), `seed ${seed}`).toEqual([]);
    }
  });
});

describe('overlapping invocations in the simulated account', () => {
  it('a zone-wide stop while fast-mode invocations run: each pair moved once, each route written once, every write after its intent, one history record per move', async () => {
    // Prepare: five pairs in fast mode; every primary stops at once, so five EC2 events start five invocations
    // beside the fast-mode loop (and EventBridge may deliver them close together).
    const config = fastFleet(5);
    const scenario: Scenario = {
      name: 'zone-wide stop during fast mode',
      config,
      duration: 240,
      faults: [{ at: 125, target: { pair: EVERY_PAIR, role: 'primary' }, fault: 'stop' }],
      commands: [],
    };
    const history = new Map<string, unknown[]>();
    /** invocation -> first and last successful call it made (epoch ms) */
    const spans = new Map<number, [number, number]>();

    // Act
    const run = await runRecorded(scenario, {
      prepare: (account) =>
        account.onCall((call: ObservedCall) => {
          if (call.invocation === undefined) return;
          const [first] = spans.get(call.invocation) ?? [call.at];
          spans.set(call.invocation, [first, call.at]);
        }),
      inspect: async (account) => {
        const store = new StateStore({ dynamo: account.clients.dynamo, tableName: account.tableName });
        for (const pair of config.pairs) {
          history.set(
            pair.name,
            (await store.listHistory(pair.name)).flatMap((h) => h.record.plan ?? []),
          );
        }
      },
    });

    // Assess
    const { output } = run;
    // Invocations did overlap: some ran while another was still making calls.
    const overlapping = [...spans.values()].filter(([first, last]) =>
      [...spans.values()].some(([f, l]) => f < first && first < l && last > first),
    );
    expect(overlapping.length).toBeGreaterThanOrEqual(3);
    const failovers = of(output, 'failover');
    expect(failovers.map((f) => f.pair).sort()).toEqual(config.pairs.map((p) => p.name).sort());
    const writes = of(output, 'route-change').map((r) => `${r.routeTable} ${r.destination} ${r.to}`);
    expect(writes.sort()).toEqual([...new Set(writes)].sort());
    expect(writes).toHaveLength(5 * 4);
    expect(writes.every((w) => w.endsWith(' standby'))).toBe(true);
    const moved = of(output, 'route-change').map((r) => r.t);
    expect(Math.max(...moved) - 125).toBeLessThanOrEqual(6);
    // No route written by an invocation before it stored the pair's intent (a run that lost the write wrote none).
    expect(checkInvariants(run)[10].violations).toEqual([]);
    expect(of(output, 'error')).toEqual([]);
    for (const pair of config.pairs) expect(history.get(pair.name)).toEqual(['failover']);
  });
});
