import { type HistoryEntry, StateStore } from '../../shared/aws/state-store.ts';
import { loadConfigFile } from '../../shared/config/file.ts';
import type { Config } from '../../shared/config/schema.ts';
import type { Lease } from '../../shared/domain/types.ts';
import type { SimAccount } from '../../sim/account.ts';
import type { SimulateOutput } from '../../sim/output.ts';
import {
  installResizeWorkflow,
  type Notification,
  type ResizeCommandOptions,
  type ResizeFigures,
  resizeCommandHandler,
  resizeFigures,
} from '../../sim/resize.ts';
import { runScenario } from '../../sim/run-scenario.ts';
import type { ScenarioCommand, ScenarioFault } from '../../sim/scenario.ts';
import type { LocalExecution } from '../../sim/stepfunctions.ts';

/**
 * Runs the resize workflow the way the product runs it, in the simulated account: a scenario with the real
 * controller on its schedule and EC2 events, a `resize` command that starts the state machine synthesized by CDK
 * through the account's Step Functions, faults from the scenario or injected when the execution enters a state.
 * A helper for the workflow tests, not a test file.
 */

/** The example configuration: one pair, two route tables, two destinations, a strongSwan probe and a tunnel. */
export const exampleConfig = (): Config => loadConfigFile('examples/pairs.yaml');

/** The pair the tests resize. */
export const PAIR = 'branch-a';
/** Every simulated member starts as c6in.large; the tests resize to this. */
export const NEW_TYPE = 'c6in.xlarge';
export const OLD_TYPE = 'c6in.large';

/** What a resize run leaves behind to assert on. */
export interface ResizeRun {
  readonly output: SimulateOutput;
  /** every execution, in start order */
  readonly executions: readonly LocalExecution[];
  readonly notifications: readonly Notification[];
  /** the pair's lease at the end (undefined: released) */
  readonly lease: Lease | undefined;
  /** the pair's history records, oldest first */
  readonly history: readonly HistoryEntry[];
  readonly figures: ResizeFigures;
}

/** Options of one run. */
export interface ResizeRunOptions {
  readonly config?: Config;
  /** resize commands; default one at 60 s to NEW_TYPE */
  readonly commands?: readonly { readonly at: number; readonly instanceType?: string }[];
  readonly faults?: readonly ScenarioFault[];
  readonly onState?: ResizeCommandOptions['onState'];
  readonly request?: ResizeCommandOptions['request'];
  /** virtual seconds the scenario runs: over twice what the default workflow takes (13 minutes). @default 1800 */
  readonly duration?: number;
  readonly seed?: number;
}

/** Run one scenario with resize commands and collect what the tests look at. */
export async function runResizeScenario(options: ResizeRunOptions = {}): Promise<ResizeRun> {
  const config = options.config ?? exampleConfig();
  const duration = options.duration ?? 1800;
  const commands: ScenarioCommand[] = (options.commands ?? [{ at: 60 }]).map((c) => ({
    at: c.at,
    command: 'resize',
    pair: PAIR,
    instanceType: c.instanceType ?? NEW_TYPE,
  }));
  let inspected: Omit<ResizeRun, 'output' | 'figures'> | undefined;
  const output = await runScenario(
    { name: 'resize', config, duration, faults: options.faults ?? [], commands },
    {
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      commandHandlers: {
        resize: resizeCommandHandler({
          ...(options.onState ? { onState: options.onState } : {}),
          ...(options.request ? { request: options.request } : {}),
        }),
      },
      inspect: async (account: SimAccount) => {
        const workflow = installResizeWorkflow(account);
        const store = new StateStore({ dynamo: account.clients.dynamo, tableName: account.tableName });
        const stored = await store.loadPair(PAIR);
        inspected = {
          executions: workflow.stepFunctions.executions(),
          notifications: [...workflow.notifications],
          lease: stored.memory.lease,
          history: (await store.listHistory(PAIR, 200)).reverse(),
        };
      },
    },
  );
  if (!inspected) throw new Error('the scenario ended without being inspected');
  const pair = config.pairs.find((p) => p.name === PAIR);
  if (!pair) throw new Error(`no pair ${PAIR}`);
  return { output, ...inspected, figures: resizeFigures(output.events, pair, duration) };
}

/** The states an execution entered, in order. */
export const statesEntered = (execution: LocalExecution): string[] =>
  execution.events.flatMap((e) => (e.stateEnteredEventDetails ? [e.stateEnteredEventDetails.name] : []));

/** The errors the execution's Lambda steps failed with, in order. */
export const stepErrors = (execution: LocalExecution): string[] =>
  execution.events.flatMap((e) =>
    e.lambdaFunctionFailedEventDetails?.error ? [e.lambdaFunctionFailedEventDetails.error] : [],
  );

/** Each failed Lambda step with the state it ran in, in order. */
export function stepFailures(execution: LocalExecution): { state: string; error: string }[] {
  let state = '';
  return execution.events.flatMap((e) => {
    if (e.type === 'TaskStateEntered') state = e.stateEnteredEventDetails?.name ?? '';
    const error = e.lambdaFunctionFailedEventDetails?.error;
    return error === undefined ? [] : [{ state, error }];
  });
}

/** The one execution of a run, or a failure naming how many there were. */
export function onlyExecution(run: ResizeRun): LocalExecution {
  const [execution, ...more] = run.executions;
  if (!execution || more.length > 0) throw new Error(`expected one execution, got ${run.executions.length}`);
  return execution;
}

/**
 * Every moment the workflow stopped a member (a `stopping` transition no scenario fault caused) and how many
 * managed routes pointed at that member right then. All zero means the member carrying traffic was never stopped.
 */
export function routesOnStoppedMembers(
  run: ResizeRun,
  config: Config = exampleConfig(),
): { target: string; t: number; routes: number }[] {
  const pair = config.pairs.find((p) => p.name === PAIR);
  const owners = new Map<string, string>();
  for (const table of pair?.routeTables ?? [])
    for (const destination of pair?.destinations ?? []) owners.set(`${table} ${destination}`, 'primary');
  const stops: { target: string; t: number; routes: number }[] = [];
  for (const event of run.output.events) {
    if (event.type === 'route-change' && event.pair === PAIR)
      owners.set(`${event.routeTable} ${event.destination}`, event.to);
    if (event.type !== 'state-change' || event.to !== 'stopping') continue;
    const byFault = run.output.events.some(
      (f) =>
        f.type === 'fault' &&
        f.target === event.target &&
        f.fault === 'stop' &&
        Math.abs(f.t - event.t) < 0.5,
    );
    if (byFault) continue;
    const role = event.target.slice(PAIR.length + 1);
    stops.push({
      target: event.target,
      t: event.t,
      routes: [...owners.values()].filter((o) => o === role).length,
    });
  }
  return stops;
}
