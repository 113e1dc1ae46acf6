import { describe, expect, it } from 'vitest';
import type { Config } from '../../shared/config/schema.ts';
import type { SimEvent, SimulateOutput } from '../../sim/output.ts';
import { runScenario } from '../../sim/run-scenario.ts';
import { pairConfig, scenarioOf } from './helpers.ts';

type Changes = Record<string, { raised: number; cleared: number }>;

/** Raises and clears per (pair, alarm kind), keyed "<pair> <kind>". */
function alarmChanges(output: SimulateOutput): Changes {
  const counts: Changes = {};
  for (const event of output.events) {
    if (event.type !== 'alarm' && event.type !== 'alarm-cleared') continue;
    const key = `${event.pair} ${event.alarm}`;
    const { raised, cleared } = counts[key] ?? { raised: 0, cleared: 0 };
    counts[key] = event.type === 'alarm' ? { raised: raised + 1, cleared } : { raised, cleared: cleared + 1 };
  }
  return counts;
}

const of = <T extends SimEvent['type']>(output: SimulateOutput, type: T) =>
  output.events.filter((e): e is Extract<SimEvent, { type: T }> => e.type === type);

const MODES: [string, Config][] = [
  ['economy mode', pairConfig()],
  [
    'fast mode',
    pairConfig(
      {},
      { controller: { schedule: '1m', fastMode: { enabled: true, interval: '10s' }, probeTimeout: '15s' } },
    ),
  ],
];

/** Seeds chosen so that, in fast mode, every unknown alarm is raised in at least one run. */
const SEEDS = [2, 4];

/**
 * Throttling from 1m to 11m, then 14 calm minutes for the raised alarms to clear: each (mode, seed) runs once,
 * and the tests that look at the same run share it.
 */
const runs = new Map<string, Promise<SimulateOutput>>();
function throttled(config: Config | undefined, seed: number): Promise<SimulateOutput> {
  const key = `${JSON.stringify(config)} ${seed}`;
  let run = runs.get(key);
  if (run === undefined) {
    run = runScenario(
      scenarioOf(
        {
          duration: '25m',
          faults: [{ at: '1m', target: '*', fault: 'api-throttling', rate: 0.5, for: '10m' }],
        },
        config,
      ),
      { seed },
    );
    runs.set(key, run);
  }
  return run;
}

describe('alarms while half the API calls are throttled', () => {
  it.each(MODES)(
    '%s: for 10 minutes of 50 % throttling, each alarm is raised at most once and cleared at most once, none says unhealthy, and no route moves',
    async (_mode, config) => {
      for (const seed of SEEDS) {
        // Act
        const output = await throttled(config, seed);

        // Assess
        const changes = alarmChanges(output);
        for (const [key, { raised, cleared }] of Object.entries(changes)) {
          expect(raised, `${key} raised (seed ${seed})`).toBeLessThanOrEqual(1);
          expect(cleared, `${key} cleared (seed ${seed})`).toBeLessThanOrEqual(1);
          expect(cleared, `${key} is cleared once the reads recover (seed ${seed})`).toBe(raised);
        }
        expect(Object.keys(changes).filter((key) => /unhealthy|blackholed/.test(key))).toEqual([]);
        expect(of(output, 'failover')).toEqual([]);
        expect(of(output, 'route-change')).toEqual([]);
      }
    },
  );

  it('fast mode: a persistent unknown is still reported, once, and cleared only after the throttling ends', async () => {
    const output = await throttled(MODES[1]?.[1], 4);

    const raised = of(output, 'alarm').map((a) => a.alarm);
    const cleared = of(output, 'alarm-cleared');
    expect(raised).toEqual(expect.arrayContaining(['signal-unknown', 'standby-unknown']));
    expect(cleared.every((c) => c.t > 11 * 60)).toBe(true);
  });
});
