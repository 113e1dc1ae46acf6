import { DescribeInstanceStatusCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.ts';
import { runScheduled } from '../../shared/controller/scheduled.ts';
import { controllerTimeoutSeconds, evaluationSlots } from '../../shared/controller/timing.ts';
import type { ControllerDeps } from '../../shared/controller/types.ts';
import { useLocalStateTable } from '../support/dynamo.ts';
import { fleetConfig, instanceId, type MockFleet, mockFleet, steppingClock } from '../support/mock-fleet.ts';

const local = useLocalStateTable();
let fleet: MockFleet | undefined;
afterEach(() => {
  fleet?.restore();
  fleet = undefined;
});

const FAST = { schedule: '1m', fastMode: { enabled: true, interval: '10s' } } as const;

function start(controller: Record<string, unknown> = FAST): MockFleet {
  fleet = mockFleet(parseConfig({ ...structuredClone(fleetConfig(1)), controller }), {
    dynamoEndpoint: local.endpoint,
    tableName: local.tableName,
    clock: steppingClock(0),
  });
  return fleet;
}

/** The deps with EC2's status read (the first read of every evaluation) noted, and slowed where asked. */
function timedEvaluations(
  deps: ControllerDeps,
  slow: (n: number) => number,
): { deps: ControllerDeps; starts: number[] } {
  const starts: number[] = [];
  const ec2 = deps.clients.ec2;
  const timed = new Proxy(ec2, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: unknown, ...rest: unknown[]) => {
        if (command instanceof DescribeInstanceStatusCommand) {
          starts.push(deps.clock.now());
          await deps.clock.sleep(slow(starts.length));
        }
        return (target.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
      };
    },
  }) as EC2Client;
  return { deps: { ...deps, clients: { ...deps.clients, ec2: timed } }, starts };
}

describe('a scheduled invocation in fast mode', () => {
  it('covers the schedule period with evenly spaced slots, the last one interval before the next invocation', () => {
    const { controller } = parseConfig({ ...structuredClone(fleetConfig(1)), controller: FAST });
    const { slots, takeOver } = evaluationSlots(
      controller,
      0,
      controllerTimeoutSeconds({ ...fleetConfig(1), controller }) * 1000,
    );

    expect(slots).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000]);
    expect(takeOver).toBe(60_000);
  });

  it('keeps to its grid when one evaluation overruns: the next starts as soon as it ends, the rest on their slots', async () => {
    // Prepare: the second evaluation takes 25 s (a slow read), past the slots at 20 s and 30 s.
    const f = start();
    const { deps, starts } = timedEvaluations(f.deps, (n) => (n === 2 ? 25_000 : 0));

    // Act
    const runs = await runScheduled(deps);

    // Assess: evaluations at 0 and 10 s, one at once when the slow one ends (about 35 s), then 40 and 50 s.
    const seconds = starts.map((at) => Math.floor(at / 1000));
    expect(seconds[0]).toBe(0);
    expect(seconds[1]).toBe(10);
    expect(seconds[2]).toBeGreaterThanOrEqual(35);
    expect(seconds[2]).toBeLessThan(40);
    expect(seconds.slice(3)).toEqual([40, 50]);
    expect(runs).toHaveLength(5);
  });

  it('in economy mode re-checks a pair whose active member’s probe failed once, 23 s later, within the same invocation', async () => {
    // Prepare: economy mode; the primary's daemon probe fails from the start.
    const f = start({});
    f.world.probeExit.set(instanceId(1), 1);
    const { deps, starts } = timedEvaluations(f.deps, () => 0);

    // Act
    const runs = await runScheduled(deps);

    // Assess: the first evaluation sees 1/2, the re-check 23 s after its start confirms and fails over.
    expect(runs.map((r) => [r.trigger, r.pairs[0]?.plan])).toEqual([
      ['schedule', 'noop'],
      ['recheck', 'failover'],
    ]);
    expect((starts[1] ?? Infinity) - (starts[0] ?? 0)).toBeGreaterThanOrEqual(23_000);
    expect((starts[1] ?? Infinity) - (starts[0] ?? 0)).toBeLessThan(30_000);
  });
});
