import { runController } from '../shared/controller/run.ts';
import type { ControllerDeps } from '../shared/controller/types.ts';
import { controllerDepsOf, createSimAccount, type SimAccount } from '../sim/account.ts';
import { startLocalDynamo } from '../sim/local-dynamo.ts';
import { fleetConfig } from '../test/support/mock-fleet.ts';

/**
 * One steady tick (every pair healthy and converged, state already stored) in the simulated account: the AWS
 * calls the controller makes, including the SDK's retries and the probe's polls, how long the tick takes in
 * virtual time under the default latency model (API latency, SSM delivery and execution, throttling by EC2's
 * token buckets), and the real time the simulation took. Same fleet as the steady-tick section.
 */

/**
 * Run one scheduled controller invocation to its end, driving the account's virtual clock meanwhile; returns
 * the run's own virtual duration in ms.
 */
async function tick(account: SimAccount, deps: ControllerDeps): Promise<number> {
  let done = false;
  const outcome = account
    .invoke(() => runController(deps, { kind: 'schedule' }), 15 * 60 * 1000)
    .finally(() => {
      done = true;
    });
  while (!done) await account.clock.runUntil(account.clock.now() + 100);
  const result = await outcome;
  if (result.kind !== 'completed') throw new Error(`the tick did not complete: ${result.kind}`);
  return result.value.durationMs;
}

const total = (map: ReadonlyMap<string, number>, prefix = ''): number =>
  [...map].filter(([k]) => k.startsWith(prefix)).reduce((sum, [, n]) => sum + n, 0);

/** One row per fleet size: calls per service, throttled attempts, virtual seconds and real ms of the tick. */
export async function benchSimTick(sizes: readonly number[] = [1, 10, 100, 200, 500]): Promise<string> {
  const dynamo = await startLocalDynamo();
  const rows: string[] = [];
  try {
    for (const size of sizes) {
      const config = fleetConfig(size);
      const account = await createSimAccount(config, {
        dynamoEndpoint: dynamo.endpoint,
        tableName: `bench-sim-tick-${size}`,
      });
      try {
        const deps = controllerDepsOf(account);
        // The first tick stores each pair's state and learns its ENIs; the second is steady.
        await tick(account, deps);
        await tick(account, deps);
        account.stats.calls.clear();
        account.stats.throttled.clear();
        const started = performance.now();
        const seconds = (await tick(account, deps)) / 1000;
        const wall = performance.now() - started;
        const { calls, throttled } = account.stats;
        rows.push(
          [
            String(size).padStart(5),
            String(total(calls)).padStart(5),
            String(total(calls, 'EC2')).padStart(4),
            String(total(calls, 'SSM')).padStart(4),
            String(total(calls, 'CloudWatch')).padStart(3),
            String(total(calls, 'DynamoDB')).padStart(4),
            String(total(throttled)).padStart(9),
            seconds.toFixed(1).padStart(9),
            wall.toFixed(0).padStart(7),
          ].join(' | '),
        );
      } finally {
        await account.close();
      }
    }
  } finally {
    await dynamo.close();
  }
  return [
    'Steady tick in the simulated account (default latency model), AWS calls including retries and probe polls:',
    'pairs | calls |  ec2 |  ssm |  cw |  ddb | throttled | virtual s | real ms',
    ...rows,
  ].join('\n');
}
