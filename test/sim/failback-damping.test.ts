import { describe, expect, it } from 'vitest';
import type { SimEvent, SimulateOutput } from '../../sim/output.ts';
import { runScenario } from '../../sim/run-scenario.ts';
import { pairConfig, scenarioOf } from './helpers.ts';

const of = <T extends SimEvent['type']>(output: SimulateOutput, type: T) =>
  output.events.filter((e): e is Extract<SimEvent, { type: T }> => e.type === type);

/** A soft failure is acted on within two schedule periods (unhealthyThreshold 2) plus the probe timeout. */
const DETECTION_BOUND_S = 2 * 60 + 20;

describe('a flapping primary under automatic failback', () => {
  it('traffic leaves the failed primary within the detection bound every time, and each further failure makes failback rarer', async () => {
    // Prepare: the primary's daemon dies for 3 minutes every 8 minutes; failback is automatic after 2
    // healthy evaluations, with the default 5-minute cooldown.
    const faults = Array.from({ length: 7 }, (_, i) => [
      { at: `${2 + 8 * i}m`, target: 'branch-a/primary', fault: 'daemon-down' },
      { at: `${5 + 8 * i}m`, target: 'branch-a/primary', fault: 'daemon-up' },
    ]).flat();
    const config = pairConfig({ failback: 'automatic', failbackAfter: 2 });

    // Act
    const output = await runScenario(scenarioOf({ duration: '60m', faults }, config));

    // Assess: every time the daemon dies while the primary carries traffic, traffic leaves it in time.
    const moves = of(output, 'failover');
    const carrierAt = (t: number) => moves.filter((m) => m.t <= t).at(-1)?.to ?? 'primary';
    const failures = of(output, 'fault').filter(
      (f) => f.fault === 'daemon-down' && carrierAt(f.t) === 'primary',
    );
    expect(failures.length).toBeGreaterThanOrEqual(2);
    for (const failure of failures) {
      const away = moves.find((m) => m.t >= failure.t && m.to === 'standby');
      expect(away, `failover after the daemon died at ${failure.t} s`).toMatchObject({
        trigger: 'soft-failure',
      });
      expect((away?.t ?? Infinity) - failure.t).toBeLessThanOrEqual(DETECTION_BOUND_S);
    }
    // The first recovery brings traffic back; after the second failure a 5-minute recovery no longer
    // does, and only the last, longer one does.
    const failbacks = moves.filter((m) => m.trigger === 'automatic-failback');
    const recoveries = of(output, 'fault').filter((f) => f.fault === 'daemon-up');
    expect(recoveries).toHaveLength(7);
    expect(failbacks).toHaveLength(2);
    expect(failbacks[1]?.t).toBeGreaterThan(recoveries.at(-1)?.t ?? Infinity);
  });
});
