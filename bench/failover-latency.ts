import { join } from 'node:path';
import { loadConfigFile } from '../shared/config/file.ts';
import { type Config, DEFAULT_CONTROLLER } from '../shared/config/schema.ts';
import type { SimAccount } from '../sim/account.ts';
import type { MemberFault } from '../sim/faults.ts';
import { DEFAULT_LATENCY } from '../sim/latency.ts';
import { startLocalDynamo } from '../sim/local-dynamo.ts';
import type { SimulateOutput } from '../sim/output.ts';
import { runScenario } from '../sim/run-scenario.ts';
import type { Scenario, ScenarioFault } from '../sim/scenario.ts';

/**
 * Seconds from a fault on the active member to every route of its pair on the standby, in the simulated account
 * with the default latency model (sim/latency.ts), for each fault kind that moves traffic. The example
 * configuration (examples/pairs.yaml: strongSwan probe counting SAs, tunnel metric, unhealthyThreshold 2) with
 * the member agent disabled (the controller polls; bench/agent-latency.ts measures it with the agent) runs
 * in economy mode (the 1-minute schedule alone) and in fast mode (re-checks every 10 s). Faults fall uniformly
 * within one schedule period, after a minute of steady state, each run with its own seed. Then, for situations in
 * which moving traffic helps no one or nothing is wrong with the active member, the number of moves (target 0).
 */

/** The fault kinds that move traffic off the active member. */
const MOVING_FAULTS: readonly MemberFault[] = [
  'stop',
  'terminate',
  'system-impaired',
  'instance-impaired',
  'daemon-down',
  'daemon-hang',
  'tunnel-down',
  'os-hang',
  'scheduled-retirement',
];

/** The example configuration every latency figure runs. */
export const EXAMPLE_CONFIG = join(import.meta.dirname, '..', 'examples', 'pairs.yaml');

const STILL_HORIZON_SECONDS = 300;
const AGENT_HORIZON_SECONDS = 900;

/** A situation that must not move traffic: its faults, given the fault instant and the mode's interval. */
interface StillCase {
  readonly name: string;
  readonly faults: (pair: string, at: number, interval: number) => ScenarioFault[];
  /**
   * Judge only runs in which the primary's real outage (not carrying traffic, from the fault until its tunnel
   * is back) was shorter than the interval between evaluations, so that no two evaluations in a row could see it;
   * runs are drawn until `stillRuns` are judged or five times as many have run.
   */
  readonly shorterThanInterval?: true;
  /** virtual seconds observed after the fault; default STILL_HORIZON_SECONDS */
  readonly horizon?: number;
}

/**
 * Situations that must move nothing. The SSM agent case runs past the instant SSM stops counting the silent agent
 * online (5 to 10 minutes, sim/latency.ts ssm.agentConnectionLost), hence the longer horizon.
 */
const STILL_CASES: readonly StillCase[] = [
  {
    name: 'ssm-agent-offline (active member)',
    horizon: AGENT_HORIZON_SECONDS,
    faults: (pair, at) => [{ at, target: { pair, role: 'primary' }, fault: 'ssm-agent-offline' }],
  },
  {
    name: 'far end down (both tunnels)',
    faults: (pair, at) => [
      { at, target: { pair, role: 'primary' }, fault: 'tunnel-down' },
      { at, target: { pair, role: 'standby' }, fault: 'tunnel-down' },
    ],
  },
  {
    // The daemon is down for a second; the outage lasts until its SAs are re-established (sim/latency.ts
    // world.tunnelEstablish), which in fast mode can outlast an interval: only shorter outages are judged.
    name: 'daemon blip (outage < interval)',
    faults: (pair, at) => [
      { at, target: { pair, role: 'primary' }, fault: 'daemon-down' },
      { at: at + 1, target: { pair, role: 'primary' }, fault: 'daemon-up' },
    ],
    shorterThanInterval: true,
  },
  {
    name: 'api-throttling 50 % (every call, SSM included)',
    faults: (_pair, at) => [
      { at, target: '*', fault: 'api-throttling', rate: 0.5, for: STILL_HORIZON_SECONDS },
    ],
  },
];

/** Virtual time after the fault in which the move must happen: the slowest (instance checks, soft streaks) take under 4 minutes. */
export const HORIZON_SECONDS = 300;
export const WARM_UP_SECONDS = 60;

/** The controller modes measured. */
interface Mode {
  readonly name: string;
  readonly controller: Config['controller'];
}

const MODES: readonly Mode[] = [
  {
    name: 'economy (schedule 1m)',
    controller: DEFAULT_CONTROLLER,
  },
  {
    name: 'fast mode (schedule 1m, every 10s)',
    controller: { schedule: 60, fastMode: { enabled: true, interval: 10 }, probeTimeout: 15 },
  },
];

/** The value at a percentile of sorted values (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

/** Seconds from `at` until every route of the pair is on the standby, or undefined if that never happens. */
export function secondsToMove(
  output: SimulateOutput,
  pair: string,
  routes: number,
  at: number,
): number | undefined {
  const onStandby = new Set<string>();
  for (const event of output.events) {
    if (event.type !== 'route-change' || event.pair !== pair) continue;
    const key = `${event.routeTable} ${event.destination}`;
    if (event.to === 'standby') onStandby.add(key);
    else onStandby.delete(key);
    if (onStandby.size === routes && event.t >= at) return event.t - at;
  }
  return undefined;
}

/**
 * Watch how long a pair's primary carries no traffic (World.memberHealthy) in a run; call from `prepare`. The
 * returned function gives the longest outage in seconds.
 */
function watchOutage(account: SimAccount, pair: string): () => number {
  const primary = account.world.member(pair, 'primary');
  let since: number | undefined;
  let longest = 0;
  account.clock.onSettled((now) => {
    const healthy = account.world.memberHealthy(primary);
    if (!healthy && since === undefined) since = now;
    if (healthy && since !== undefined) {
      longest = Math.max(longest, now - since);
      since = undefined;
    }
  });
  return () => Math.max(longest, since === undefined ? 0 : account.clock.now() - since) / 1000;
}

/** Traffic moves (failovers and failbacks) the controller carried out for a pair. */
export function movesOf(output: SimulateOutput, pair: string): number {
  return output.events.filter((e) => e.type === 'failover' && e.pair === pair).length;
}

/**
 * One table row per fault kind: runs, moves, p50/p95/max seconds; then, per situation that must not move
 * traffic, the runs that moved it and the moves in all (`stillRuns` runs each).
 */
export async function benchFailoverLatency(runsPerCell = 50, stillRuns = 20): Promise<string> {
  const example = loadConfigFile(EXAMPLE_CONFIG);
  const base: Config = { ...example, agent: { ...example.agent, enabled: false } };
  const pair = base.pairs[0];
  if (!pair) throw new Error('examples/pairs.yaml has no pair');
  const routes = pair.routeTables.length * pair.destinations.length;
  const dynamo = await startLocalDynamo();
  const lines = [
    `Failover latency, member agent disabled: seconds from the fault to all ${routes} routes on the standby, ${runsPerCell} runs per cell`,
    `  config examples/pairs.yaml (probe ${pair.probe.kind}, tunnel metric, unhealthyThreshold ${pair.unhealthyThreshold}), agent.enabled false; default latency model (sim/latency.ts)`,
    `  fault at ${WARM_UP_SECONDS} s + uniform [0, schedule period), seed = run number, ${HORIZON_SECONDS} s observed after the fault`,
  ];
  let table = 0;
  try {
    for (const mode of MODES) {
      const config: Config = { ...base, controller: mode.controller };
      lines.push('', `${mode.name}`, 'fault                | moved |   p50 |   p95 |   max');
      for (const fault of MOVING_FAULTS) {
        const times: number[] = [];
        for (let run = 0; run < runsPerCell; run++) {
          const seed = run + 1;
          // A deterministic spread over the period: the same offsets for every kind and mode.
          const at = WARM_UP_SECONDS + ((run + 0.5) / runsPerCell) * mode.controller.schedule;
          const scenario: Scenario = {
            name: `${fault} ${run}`,
            config,
            duration: at + HORIZON_SECONDS,
            faults: [{ at, target: { pair: pair.name, role: 'primary' }, fault }],
            commands: [],
          };
          const output = await runScenario(scenario, {
            seed,
            latency: DEFAULT_LATENCY,
            dynamoEndpoint: dynamo.endpoint,
            tableName: `bench-latency-${table++}`,
          });
          const seconds = secondsToMove(output, pair.name, routes, at);
          if (seconds !== undefined) times.push(seconds);
        }
        const sorted = [...times].sort((a, b) => a - b);
        const cell = (p: number) =>
          sorted.length === 0 ? '    -' : percentile(sorted, p).toFixed(1).padStart(5);
        lines.push(
          `${fault.padEnd(20)} | ${`${times.length}/${runsPerCell}`.padStart(5)} | ${cell(50)} | ${cell(95)} | ${cell(100)}`,
        );
      }
      const interval = mode.controller.fastMode.enabled
        ? mode.controller.fastMode.interval
        : mode.controller.schedule;
      lines.push(
        '',
        `must not move: ${stillRuns} runs each, ${STILL_HORIZON_SECONDS} s observed after the fault (ssm-agent-offline ${AGENT_HORIZON_SECONDS} s)`,
        `${'situation'.padEnd(46)} | moved/runs | moves`,
      );
      for (const still of STILL_CASES) {
        let moved = 0;
        let moves = 0;
        let judged = 0;
        const attempts = still.shorterThanInterval ? 5 * stillRuns : stillRuns;
        for (let run = 0; run < attempts && judged < stillRuns; run++) {
          const at = WARM_UP_SECONDS + (((run % stillRuns) + 0.5) / stillRuns) * mode.controller.schedule;
          let outage: (() => number) | undefined;
          const output = await runScenario(
            {
              name: `${still.name} ${run}`,
              config,
              duration: at + (still.horizon ?? STILL_HORIZON_SECONDS),
              faults: still.faults(pair.name, at, interval),
              commands: [],
            },
            {
              seed: run + 1,
              latency: DEFAULT_LATENCY,
              dynamoEndpoint: dynamo.endpoint,
              tableName: `bench-latency-${table++}`,
              prepare: (account) => {
                outage = watchOutage(account, pair.name);
              },
            },
          );
          if (still.shorterThanInterval && (outage?.() ?? 0) >= interval) continue;
          judged++;
          const count = movesOf(output, pair.name);
          moves += count;
          if (count > 0) moved++;
        }
        lines.push(
          `${still.name.padEnd(46)} | ${`${moved}/${judged}`.padStart(10)} | ${String(moves).padStart(5)}`,
        );
      }
    }
  } finally {
    await dynamo.close();
  }
  return lines.join('\n');
}
