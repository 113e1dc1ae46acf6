import { readFileSync } from 'node:fs';
import { App, CfnResource, type Stack } from 'aws-cdk-lib';
import { CfnAlias } from 'aws-cdk-lib/aws-lambda';
import type { CfnStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { handleStep } from '../functions/resize/handler.ts';
import { type ResizeWorkflow, resizeStepTimeoutSeconds } from '../infra/resize-workflow.ts';
import { VpnFailoverStack } from '../infra/stack.ts';
import { startExecution } from '../shared/aws/sfn.ts';
import type { Config, PairConfig } from '../shared/config/schema.ts';
import type { ControllerDeps } from '../shared/controller/types.ts';
import type { Role } from '../shared/domain/types.ts';
import { END_STATES, progressStep, RESIZE_STATES, type StageRoles } from '../shared/resize/states.ts';
import { executionName, type ResizeRequestInput } from '../shared/resize/types.ts';
import { controllerDepsOf, type SimAccount } from './account.ts';
import type { CommandHandler, UntimedEvent } from './commands.ts';
import type { RouteOwner, SimEvent } from './output.ts';
import { runScenario } from './run-scenario.ts';
import {
  type HistoryEventRecord,
  type LocalExecution,
  LocalStepFunctions,
  lambdaFailure,
  type SynthesizedStateMachine,
  stateMachinesOf,
  type Template,
  type TemplateEnvironment,
} from './stepfunctions.ts';
import { ACCOUNT_ID } from './world-model.ts';

/**
 * The resize workflow in the simulated account: the state machine the CDK app synthesizes (the product's stack,
 * not a copy), run by the local Step Functions of sim/stepfunctions.ts behind the account's SFN client, its
 * Lambda steps run as invocations of the real handler (functions/resize/handler.ts) against the account, and
 * its SNS notifications kept. The scenario command `resize` (docs/simulator.md#scenario-files) starts it like the
 * CLI does.
 */

/** cdk.json's feature flags: `new App()` ignores cdk.json (the CDK reads cdk.json only in the CLI). */
const CDK_CONTEXT = (
  JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
    context?: Record<string, unknown>;
  }
).context;

/**
 * The resize state machine of a synthesized stack with its definition resolved: the template's resources (for
 * Ref and Fn::GetAtt) and the DefinitionString exactly as the stack renders it into the template.
 */
export function resolvedResizeStateMachine(
  stack: Stack,
  workflow: ResizeWorkflow,
  environment: TemplateEnvironment,
): SynthesizedStateMachine & { readonly stepFunctionName: string } {
  const machine = workflow.stateMachine.node.defaultChild as CfnStateMachine;
  const resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> = {};
  for (const construct of stack.node.findAll()) {
    if (!CfnResource.isCfnResource(construct)) continue;
    const id = stack.getLogicalId(construct);
    if (construct === machine) {
      resources[id] = {
        Type: construct.cfnResourceType,
        Properties: { DefinitionString: stack.resolve(machine.definitionString) },
      };
    } else if (construct instanceof CfnAlias) {
      // The state machine invokes the step Lambda through an alias: its Ref is the qualified function ARN.
      resources[id] = {
        Type: construct.cfnResourceType,
        Properties: { FunctionName: stack.resolve(construct.functionName), Name: construct.name },
      };
    } else {
      resources[id] = { Type: construct.cfnResourceType };
    }
  }
  const template: Template = { Resources: resources };
  const logicalId = stack.getLogicalId(machine);
  const found = stateMachinesOf(template, environment).find((m) => m.logicalId === logicalId);
  if (!found) throw new Error('the stack has no resize state machine');
  const stepFunctionName = stack.getLogicalId(workflow.stepFunction.node.defaultChild as CfnResource);
  return { ...found, stepFunctionName };
}

const synthesized = new Map<string, SynthesizedStateMachine & { readonly stepFunctionName: string }>();

/**
 * Synthesize the product's stack for a configuration (asset bundling skipped: the simulator runs the handler's
 * source, not its bundle) and resolve its resize state machine. Cached per configuration and environment.
 */
export function synthesizeResizeStateMachine(
  config: Config,
  environment: TemplateEnvironment,
): SynthesizedStateMachine & { readonly stepFunctionName: string } {
  const key = JSON.stringify({ config, environment });
  const cached = synthesized.get(key);
  if (cached) return cached;
  const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
  const stack = new VpnFailoverStack(app, 'VpnFailover', { config });
  const machine = resolvedResizeStateMachine(stack, stack.controller.resize, environment);
  synthesized.set(key, machine);
  return machine;
}

/** One SNS message the workflow published. */
export interface Notification {
  /** epoch ms (virtual) */
  readonly at: number;
  readonly topicArn: string;
  readonly subject?: string;
  readonly message: string;
}

/** The resize workflow installed in a simulated account. */
export interface SimResizeWorkflow {
  readonly stateMachineArn: string;
  readonly stepFunctions: LocalStepFunctions;
  /** every SNS message published, in order */
  readonly notifications: Notification[];
}

const installed = new WeakMap<SimAccount, SimResizeWorkflow>();

/**
 * Install the resize workflow in an account (once; later calls return the same): the account's SFN client then
 * answers StartExecution, DescribeExecution and GetExecutionHistory. `deps` is what the step Lambda runs with
 * (a scenario passes the controller's, so the failovers it makes show in the timeline).
 */
export function installResizeWorkflow(
  account: SimAccount,
  deps: ControllerDeps = controllerDepsOf(account),
): SimResizeWorkflow {
  const existing = installed.get(account);
  if (existing) return existing;
  const region = account.world.region;
  const machine = synthesizeResizeStateMachine(account.config, { region, account: ACCOUNT_ID });
  const stepFunctions = new LocalStepFunctions({ clock: account.clock, region, account: ACCOUNT_ID });
  const notifications: Notification[] = [];
  const timeoutMs = resizeStepTimeoutSeconds(account.config) * 1000;
  let requests = 0;

  stepFunctions.register(machine.stateMachineArn, machine.definition, async (resource, input, state) => {
    // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    if (resource.split(':')[6] === machine.stepFunctionName) {
      // The payload crosses the Lambda boundary as JSON both ways, as in AWS.
      const payload: unknown = JSON.parse(JSON.stringify(input));
      const requestId = `sim-${++requests}`;
      const outcome = await account.invoke(
        () => handleStep(payload, { awsRequestId: requestId }, deps),
        timeoutMs,
      );
      switch (outcome.kind) {
        case 'completed':
          return JSON.parse(JSON.stringify(outcome.value ?? null));
        case 'failed':
          throw lambdaFailure(outcome.error);
        case 'timed-out':
          throw named('Sandbox.Timedout', `Task timed out after ${timeoutMs / 1000} seconds`);
        case 'crashed':
          throw named('Lambda.Unknown', 'the function crashed');
      }
    }
    if (resource.endsWith(':sns:publish')) {
      const { TopicArn, Subject, Message } = input as {
        TopicArn: string;
        Subject?: string;
        Message: unknown;
      };
      notifications.push({
        at: account.clock.now(),
        topicArn: TopicArn,
        ...(Subject !== undefined ? { subject: Subject } : {}),
        message: typeof Message === 'string' ? Message : JSON.stringify(Message),
      });
      return { MessageId: `sim-message-${notifications.length}` };
    }
    throw named('States.TaskFailed', `the simulator has no handler for ${resource} (state "${state}")`);
  });
  for (const [action, handler] of Object.entries(stepFunctions.handlers()))
    account.extend('SFN', action, handler);
  const workflow = { stateMachineArn: machine.stateMachineArn, stepFunctions, notifications };
  installed.set(account, workflow);
  return workflow;
}

function named(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** What a state of a running resize looks like to a hook. */
export interface StateHookContext {
  readonly account: SimAccount;
  readonly execution: LocalExecution;
  /** which member is resized first and second, once the preflight has said */
  readonly roles: StageRoles;
}

/** Options of the scenario's resize command. */
export interface ResizeCommandOptions {
  /** request fields beyond pair and instanceType (failback, soak) */
  readonly request?: Omit<ResizeRequestInput, 'pair' | 'instanceType'>;
  /** told each state the execution enters, as it enters it (tests inject faults here) */
  readonly onState?: (state: string, context: StateHookContext) => void;
  /** told when the execution has ended */
  readonly onEnd?: (execution: LocalExecution, workflow: SimResizeWorkflow) => void;
}

/** The roles the Preflight's output names, from its TaskStateExited event. */
function rolesFrom(event: HistoryEventRecord): StageRoles | undefined {
  if (event.type !== 'TaskStateExited' || event.stateExitedEventDetails?.name !== RESIZE_STATES.preflight)
    return undefined;
  const output = JSON.parse(event.stateExitedEventDetails.output ?? 'null') as { ctx?: StageRoles } | null;
  return output?.ctx?.first
    ? { first: output.ctx.first, ...(output.ctx.second ? { second: output.ctx.second } : {}) }
    : undefined;
}

/**
 * The scenario's `resize` command: start the workflow as the CLI does (StartExecution through the account's
 * SFN client, execution name resize-PAIR-TIME), report each stage as a `resize-stage` event, and resolve when
 * the execution has ended.
 */
export function resizeCommandHandler(options: ResizeCommandOptions = {}): CommandHandler {
  return async ({ account, deps, command, emit }) => {
    const workflow = installResizeWorkflow(account, deps);
    const input: ResizeRequestInput = {
      ...options.request,
      pair: command.pair,
      instanceType: command.instanceType,
    };
    const started = await startExecution(account.clients.sfn, {
      stateMachineArn: workflow.stateMachineArn,
      name: executionName(command.pair, account.clock.now()),
      input,
    });
    const execution = workflow.stepFunctions.execution(started.executionArn);
    if (!execution) throw new Error(`execution ${started.executionArn} was not recorded`);
    let roles: StageRoles = {};
    let group: string | undefined;
    const stage = (name: string, detail?: string): UntimedEvent => ({
      type: 'resize-stage',
      pair: command.pair,
      stage: name,
      ...(detail !== undefined ? { detail } : {}),
    });
    emit(stage('started', `${started.executionArn} -> ${command.instanceType}`));
    workflow.stepFunctions.onEvent((owner, event) => {
      if (owner !== execution) return;
      roles = rolesFrom(event) ?? roles;
      const name = event.stateEnteredEventDetails?.name;
      if (name === undefined) return;
      options.onState?.(name, { account, execution, roles });
      const status = END_STATES[name];
      if (status !== undefined) return;
      const step = progressStep(name, roles);
      if (step === undefined || step.group === group) return;
      group = step.group;
      emit(stage(step.label));
    });
    await execution.done;
    const ended = [...execution.events]
      .reverse()
      .find((e) => e.stateEnteredEventDetails?.name && END_STATES[e.stateEnteredEventDetails.name]);
    const status = ended?.stateEnteredEventDetails?.name
      ? END_STATES[ended.stateEnteredEventDetails.name]
      : undefined;
    const outcome =
      execution.output === undefined
        ? undefined
        : (JSON.parse(execution.output) as { outcome?: { message?: string } });
    emit(
      stage(
        status ?? execution.status.toLowerCase(),
        outcome?.outcome?.message ?? execution.cause ?? execution.error,
      ),
    );
    options.onEnd?.(execution, workflow);
  };
}

/** The `resize` command of `vpn-failover simulate` with the workflow's defaults (fail back, 2-minute soak). */
export const resizeCommand: CommandHandler = resizeCommandHandler();

/** The figures of one simulated resize, for the closing note and the benchmark. */
export interface ResizeFigures {
  /** virtual seconds from the command to the end of the execution */
  readonly totalSeconds?: number;
  /** each traffic move of the run: from the decision to the last managed route on the new member */
  readonly switchovers: readonly { readonly to: Role; readonly seconds: number }[];
  /**
   * each traffic-moving workflow step (Fail over, Roll back, Fail back) from start to end: the lease write, the
   * controller's observation of the pair (daemon probe included), the route writes and their read-back
   */
  readonly moveSteps: readonly { readonly stage: string; readonly seconds: number }[];
  /** virtual seconds during which some managed route pointed at a member that was not running */
  readonly secondsOnNonRunningMember: number;
}

/**
 * Measure a resize from a scenario's event log (docs/simulator.md#simulate-output): every managed route starts on
 * the primary with both members running, as the simulated account is built; `until` is the scenario's end.
 */
export function resizeFigures(events: readonly SimEvent[], pair: PairConfig, until: number): ResizeFigures {
  const owners = new Map<string, RouteOwner>();
  for (const table of pair.routeTables)
    for (const destination of pair.destinations) owners.set(`${table} ${destination}`, 'primary');
  const states: Record<Role, string> = { primary: 'running', standby: 'running' };
  const offRunning = () =>
    [...owners.values()].some(
      (owner) => (owner === 'primary' || owner === 'standby') && states[owner] !== 'running',
    );
  let exposed = 0;
  let last = 0;
  let started: number | undefined;
  let ended: number | undefined;
  const switchovers: { to: Role; seconds: number }[] = [];
  let move: { to: Role; at: number; index: number } | undefined;
  const moveSteps: { stage: string; seconds: number }[] = [];
  let moveStep: { stage: string; at: number } | undefined;
  const sorted = [...events].sort((a, b) => a.t - b.t);
  for (const event of sorted) {
    if (offRunning()) exposed += event.t - last;
    last = event.t;
    if (event.type === 'state-change' && event.target.startsWith(`${pair.name}/`)) {
      states[event.target.slice(pair.name.length + 1) as Role] = event.to;
    } else if (event.type === 'route-change' && event.pair === pair.name) {
      owners.set(`${event.routeTable} ${event.destination}`, event.to);
      if (move && event.to === move.to) {
        const seconds = Math.round((event.t - move.at) * 10) / 10;
        switchovers[move.index] = { to: move.to, seconds };
      }
    } else if (event.type === 'failover' && event.pair === pair.name) {
      move = { to: event.to, at: event.t, index: switchovers.length };
      switchovers.push({ to: event.to, seconds: 0 });
    } else if (event.type === 'resize-stage' && event.pair === pair.name) {
      if (moveStep)
        moveSteps.push({ stage: moveStep.stage, seconds: Math.round((event.t - moveStep.at) * 10) / 10 });
      moveStep = /^(Fail over|Roll back|Fail back)/.test(event.stage)
        ? { stage: event.stage, at: event.t }
        : undefined;
      if (event.stage === 'started') started ??= event.t;
      if (RESIZE_END_STAGES.has(event.stage)) ended = event.t;
    }
  }
  if (offRunning()) exposed += Math.max(0, until - last);
  return {
    ...(started !== undefined && ended !== undefined
      ? { totalSeconds: Math.round((ended - started) * 10) / 10 }
      : {}),
    switchovers,
    moveSteps,
    secondsOnNonRunningMember: Math.round(exposed * 10) / 10,
  };
}

/** The `resize-stage` stages that end a resize. */
const RESIZE_END_STAGES: ReadonlySet<string> = new Set([...Object.values(END_STATES), 'aborted', 'failed']);

/**
 * The benchmark's resize section: resize one pair in a fresh simulated account, with the controller running on
 * its schedule, and measure it. The pair must be in `config`.
 * @param options.instanceType @default 'c6in.xlarge'
 * @param options.seed @default 1
 */
export async function benchmarkResize(
  config: Config,
  options: { readonly pair?: string; readonly instanceType?: string; readonly seed?: number } = {},
): Promise<ResizeFigures> {
  const pair = config.pairs.find((p) => p.name === (options.pair ?? config.pairs[0]?.name));
  if (!pair) throw new Error(`no pair ${options.pair ?? ''} in the configuration`);
  const duration = 3600;
  const output = await runScenario(
    {
      name: `resize ${pair.name}`,
      config,
      duration,
      faults: [],
      commands: [
        { at: 60, command: 'resize', pair: pair.name, instanceType: options.instanceType ?? 'c6in.xlarge' },
      ],
    },
    { seed: options.seed ?? 1, commandHandlers: { resize: resizeCommand } },
  );
  return resizeFigures(output.events, pair, duration);
}
