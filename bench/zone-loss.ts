import { type Config, DEFAULT_CONTROLLER } from '../shared/config/schema.ts';
import { EC2_WRITE_BUCKET } from '../shared/controller/act.ts';
import { DEFAULT_LATENCY } from '../sim/latency.ts';
import { startLocalDynamo } from '../sim/local-dynamo.ts';
import type { SimulateOutput } from '../sim/output.ts';
import { runScenario } from '../sim/run-scenario.ts';
import { EVERY_PAIR, type Scenario } from '../sim/scenario.ts';
import { fleetConfig } from '../test/support/mock-fleet.ts';

/**
 * A zone-wide loss: every primary stops at the same instant (scenario target `*` + `/primary`), so every pair
 * must move all its routes (2 route tables × 2 destinations each) at once, through EC2's mutating bucket
 * (50 at once, then 5 a second). Economy mode (the 1-minute schedule, EC2 state-change events through
 * EventBridge, one invocation at a time as reserved concurrency 1 allows), default latency model
 * (sim/latency.ts). The floor is the bucket's: (routes - 50) / 5 s. The goal: the last route moves within
 * 1.2 × floor + detection, where detection is fault → first move decided.
 */

/** The fault falls after two scheduled runs have stored every pair's state, mid-period. */
const FAULT_AT_SECONDS = 150;

/** Economy mode: the controller's defaults. */
const ECONOMY: Config['controller'] = DEFAULT_CONTROLLER;

/** What one run measured, in seconds after the fault. */
interface ZoneLossFigures {
  readonly routes: number;
  readonly floor: number;
  readonly detection?: number;
  readonly lastRoute?: number;
  readonly movedRoutes: number;
  readonly invocations: number;
  readonly throttled: number;
}

function measure(output: SimulateOutput, routes: number): ZoneLossFigures {
  const at = FAULT_AT_SECONDS;
  const firstMove = output.events.find((e) => e.type === 'failover' && e.t >= at);
  const onStandby = new Set<string>();
  let lastRoute: number | undefined;
  for (const event of output.events) {
    if (event.type !== 'route-change' || event.t < at) continue;
    const key = `${event.routeTable} ${event.destination}`;
    if (event.to === 'standby') onStandby.add(key);
    else onStandby.delete(key);
    if (onStandby.size === routes && lastRoute === undefined) lastRoute = event.t - at;
  }
  const throttled = Object.values(output.stats.throttled).reduce((sum, n) => sum + n, 0);
  return {
    routes,
    floor: Math.max(0, routes - EC2_WRITE_BUCKET.capacity) / EC2_WRITE_BUCKET.refillPerSecond,
    ...(firstMove ? { detection: firstMove.t - at } : {}),
    ...(lastRoute !== undefined ? { lastRoute } : {}),
    movedRoutes: onStandby.size,
    invocations: output.stats.invocations,
    throttled,
  };
}

/** Run the zone-wide loss for `pairs` pairs and measure it. */
export async function zoneLoss(
  pairs: number,
  dynamoEndpoint: string,
  tableName: string,
  reservedConcurrency = 1,
): Promise<ZoneLossFigures> {
  const config: Config = { ...fleetConfig(pairs), controller: ECONOMY };
  const routes = config.pairs.reduce((sum, p) => sum + p.routeTables.length * p.destinations.length, 0);
  const floor = Math.max(0, routes - EC2_WRITE_BUCKET.capacity) / EC2_WRITE_BUCKET.refillPerSecond;
  const scenario: Scenario = {
    name: `zone-wide loss, ${pairs} pairs`,
    config,
    // Long enough for the floor and a few schedule periods more.
    duration: FAULT_AT_SECONDS + Math.ceil(floor * 1.5) + 300,
    faults: [{ at: FAULT_AT_SECONDS, target: { pair: EVERY_PAIR, role: 'primary' }, fault: 'stop' }],
    commands: [],
  };
  const output = await runScenario(scenario, {
    seed: 1,
    latency: DEFAULT_LATENCY,
    dynamoEndpoint,
    tableName,
    reservedConcurrency,
  });
  return measure(output, routes);
}

/**
 * One table row per fleet size, one invocation at a time; then 150 pairs with overlapping invocations
 * (reserved concurrency 10, and 1000 for none to speak of), where the writer lease keeps one budget.
 */
export async function benchZoneLoss(
  cases: readonly { pairs: number; concurrency: number }[] = [
    { pairs: 20, concurrency: 1 },
    { pairs: 150, concurrency: 1 },
    { pairs: 500, concurrency: 1 },
    { pairs: 150, concurrency: 10 },
    { pairs: 150, concurrency: 1000 },
  ],
): Promise<string> {
  const dynamo = await startLocalDynamo();
  const rows: string[] = [];
  try {
    for (const { pairs: size, concurrency } of cases) {
      const started = performance.now();
      const f = await zoneLoss(size, dynamo.endpoint, `bench-zone-loss-${size}-${concurrency}`, concurrency);
      const wall = (performance.now() - started) / 1000;
      const seconds = (s: number | undefined) => (s === undefined ? '-' : s.toFixed(1)).padStart(7);
      const goal =
        f.lastRoute !== undefined && f.detection !== undefined
          ? f.lastRoute <= 1.2 * f.floor + f.detection
            ? 'yes'
            : 'no'
          : 'no';
      rows.push(
        [
          String(size).padStart(5),
          String(concurrency).padStart(5),
          `${f.movedRoutes}/${f.routes}`.padStart(9),
          seconds(f.floor),
          seconds(f.detection),
          seconds(f.lastRoute),
          goal.padStart(4),
          String(f.invocations).padStart(11),
          String(f.throttled).padStart(9),
          wall.toFixed(1).padStart(6),
        ].join(' | '),
      );
    }
  } finally {
    await dynamo.close();
  }
  return [
    'Zone-wide loss: every primary stopped at once (*/primary stop), each pair 2 route tables × 2 destinations;',
    '  economy mode (schedule 1m), default latency model; conc. = invocations at once (reserved concurrency);',
    '  seconds after the fault; throttled = calls throttled by the simulated account (any service, incl. retries)',
    `  floor = (routes - ${EC2_WRITE_BUCKET.capacity}) / ${EC2_WRITE_BUCKET.refillPerSecond} s; goal: last route ≤ 1.2 × floor + detection`,
    'pairs | conc. |    moved |   floor | detect. | last rt. | goal | invocations | throttled | real s',
    ...rows,
  ].join('\n');
}
