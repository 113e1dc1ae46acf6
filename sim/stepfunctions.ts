import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { Clock } from '../shared/clock.ts';
import { ServiceFault } from './faults.ts';
import type { Handler } from './services/common.ts';

/**
 * Step Functions in the simulated account: StartExecution, DescribeExecution and GetExecutionHistory answered by
 * running a state machine definition synthesized by CDK with aws-local-stepfunctions (v3). That engine emulates
 * no service integration, so every Task runs a local handler (aws-local-stepfunctions emulates no service integration) given by the caller, and
 * its Wait states sleep real time; here every Wait is overridden to 0 ms of real time and its seconds are slept on
 * the virtual clock before the next Task starts, and every Retry pause likewise (its interval and backoff as the
 * definition says). The engine reads `waitTimeOverrides[state]` exactly when a Wait state runs, which is how the
 * seconds are picked up. Only Wait states with `Seconds` are supported (the resize workflow uses no other kind).
 */

/** A CloudFormation template as CDK synthesizes it (only what resolving a definition needs). */
export interface Template {
  readonly Resources?: Readonly<
    Record<string, { readonly Type: string; readonly Properties?: Record<string, unknown> }>
  >;
}

/** The account and Region pseudo parameters resolve to. */
export interface TemplateEnvironment {
  readonly region: string;
  readonly account: string;
  /** @default aws */
  readonly partition?: string;
}

/** What Fn::GetAtt ... Arn and Ref of a resource resolve to, by resource type. */
function resourceArn(logicalId: string, type: string, env: Required<TemplateEnvironment>): string {
  const { partition, region, account } = env;
  switch (type) {
    case 'AWS::Lambda::Function':
      return `arn:${partition}:lambda:${region}:${account}:function:${logicalId}`;
    case 'AWS::SNS::Topic':
      return `arn:${partition}:sns:${region}:${account}:${logicalId}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:${partition}:states:${region}:${account}:stateMachine:${logicalId}`;
    case 'AWS::DynamoDB::Table':
      return `arn:${partition}:dynamodb:${region}:${account}:table/${logicalId}`;
    default: {
      const service = type.split('::')[1]?.toLowerCase() ?? 'unknown';
      return `arn:${partition}:${service}:${region}:${account}:${logicalId}`;
    }
  }
}

/**
 * Resolve the intrinsic functions CDK puts in a DefinitionString (a DefinitionString is an Fn::Join of tokens): Fn::Join, Ref (pseudo
 * parameters; a topic's Ref is its ARN, a function's its name) and Fn::GetAtt [X, Arn].
 */
export function resolveIntrinsics(
  value: unknown,
  template: Template,
  environment: TemplateEnvironment,
): unknown {
  const env = { partition: 'aws', ...environment };
  const resources = template.Resources ?? {};
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, argument] = entries[0] as [string, unknown];
      if (key === 'Fn::Join') {
        const [separator, parts] = argument as [string, unknown[]];
        return parts.map((part) => String(resolve(part))).join(separator);
      }
      if (key === 'Ref') {
        const name = String(argument);
        const pseudo: Record<string, string> = {
          'AWS::Partition': env.partition,
          'AWS::Region': env.region,
          'AWS::AccountId': env.account,
          'AWS::URLSuffix': 'amazonaws.com',
        };
        if (name in pseudo) return pseudo[name];
        const resource = resources[name];
        if (!resource) throw new Error(`Ref to unknown resource ${name}`);
        if (resource.Type === 'AWS::Lambda::Function') return name;
        if (resource.Type === 'AWS::Lambda::Alias') {
          // An alias's Ref is its ARN: the function's ARN with the alias name as qualifier.
          const functionName = String(resolve(resource.Properties?.FunctionName));
          return `arn:${env.partition}:lambda:${env.region}:${env.account}:function:${functionName}:${String(resource.Properties?.Name)}`;
        }
        return resourceArn(name, resource.Type, env);
      }
      if (key === 'Fn::GetAtt') {
        const [name, attribute] = argument as [string, string];
        const resource = resources[name];
        if (!resource) throw new Error(`Fn::GetAtt of unknown resource ${name}`);
        if (attribute !== 'Arn') throw new Error(`Fn::GetAtt ${name}.${attribute} is not supported`);
        return resourceArn(name, resource.Type, env);
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  };
  return resolve(value);
}

/** A state machine of a template, with its definition resolved and parsed. */
export interface SynthesizedStateMachine {
  readonly logicalId: string;
  readonly stateMachineArn: string;
  readonly definition: StateMachineDefinition;
}

/** Every AWS::StepFunctions::StateMachine of a template, definitions resolved (DefinitionString or Definition). */
export function stateMachinesOf(
  template: Template,
  environment: TemplateEnvironment,
): SynthesizedStateMachine[] {
  const env = { partition: 'aws', ...environment };
  return Object.entries(template.Resources ?? {})
    .filter(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine')
    .map(([logicalId, resource]) => {
      const properties = resource.Properties ?? {};
      const resolved = resolveIntrinsics(
        properties.DefinitionString ?? properties.Definition,
        template,
        environment,
      );
      const definition = (
        typeof resolved === 'string' ? JSON.parse(resolved) : resolved
      ) as StateMachineDefinition;
      return { logicalId, stateMachineArn: resourceArn(logicalId, resource.Type, env), definition };
    });
}

/** Runs a Task state: its Resource, the effective input (after Parameters), and the state's name. */
export type TaskRunner = (resource: string, input: unknown, state: string) => Promise<unknown>;

/** The engine's event log type (not exported by the package under a name). */
type EngineEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** One history event in the shape GetExecutionHistory returns. */
export interface HistoryEventRecord {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: Date;
  readonly type: string;
  readonly stateEnteredEventDetails?: { readonly name: string; readonly input?: string };
  readonly stateExitedEventDetails?: { readonly name: string; readonly output?: string };
  readonly lambdaFunctionScheduledEventDetails?: { readonly resource: string; readonly input?: string };
  readonly lambdaFunctionSucceededEventDetails?: { readonly output?: string };
  readonly lambdaFunctionFailedEventDetails?: { readonly error?: string; readonly cause?: string };
  readonly taskScheduledEventDetails?: {
    readonly resourceType: string;
    readonly resource: string;
    readonly region: string;
    readonly parameters: string;
  };
  readonly taskSucceededEventDetails?: {
    readonly resourceType: string;
    readonly resource: string;
    readonly output?: string;
  };
  readonly taskFailedEventDetails?: {
    readonly resourceType: string;
    readonly resource: string;
    readonly error?: string;
    readonly cause?: string;
  };
  readonly executionStartedEventDetails?: { readonly input?: string; readonly roleArn?: string };
  readonly executionSucceededEventDetails?: { readonly output?: string };
  readonly executionFailedEventDetails?: { readonly error?: string; readonly cause?: string };
}

/** Execution statuses, as DescribeExecution reports them. */
export type LocalExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

/** One local execution. */
export interface LocalExecution {
  readonly executionArn: string;
  readonly name: string;
  readonly stateMachineArn: string;
  readonly input: string;
  readonly startDate: Date;
  status: LocalExecutionStatus;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  readonly events: HistoryEventRecord[];
  /** resolves when the execution has ended (its status is final) */
  readonly done: Promise<void>;
}

/** Told about every history event as it happens (the simulator's timeline). */
export type HistoryListener = (execution: LocalExecution, event: HistoryEventRecord) => void;

interface Registered {
  readonly definition: StateMachineDefinition;
  readonly runTask: TaskRunner;
}

const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** A Retry entry of a definition. */
interface Retrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
}

/** Definitions register has validated (the engine never changes them: it runs on copies). */
const validated = new WeakSet<StateMachineDefinition>();

/** Step Functions, locally: state machines registered by ARN, executions kept in memory. */
export class LocalStepFunctions {
  readonly #clock: Clock;
  readonly #region: string;
  readonly #account: string;
  readonly #machines = new Map<string, Registered>();
  readonly #executions = new Map<string, LocalExecution>();
  readonly #listeners: HistoryListener[] = [];

  constructor(options: { readonly clock: Clock; readonly region: string; readonly account: string }) {
    this.#clock = options.clock;
    this.#region = options.region;
    this.#account = options.account;
  }

  /** Make a state machine startable; `runTask` answers every Task state. */
  register(stateMachineArn: string, definition: StateMachineDefinition, runTask: TaskRunner): void {
    // Validate now (ASL syntax, JSONPaths, ARNs), not at the first StartExecution; on a copy (the validator
    // writes QueryLanguage into every state). Once per definition: the simulator registers the same synthesized
    // one in every account, and each validation compiles the ASL schema anew (a fifth of a second).
    if (!validated.has(definition)) {
      new StateMachine(structuredClone(definition));
      validated.add(definition);
    }
    this.#machines.set(stateMachineArn, { definition, runTask });
  }

  /** Listen to every history event of every execution. */
  onEvent(listener: HistoryListener): void {
    this.#listeners.push(listener);
  }

  /** An execution by ARN (tests). */
  execution(executionArn: string): LocalExecution | undefined {
    return this.#executions.get(executionArn);
  }

  /** Every execution, in start order. */
  executions(): LocalExecution[] {
    return [...this.#executions.values()];
  }

  /** StartExecution: idempotent for the same name and input while running; ExecutionAlreadyExists otherwise. */
  startExecution(request: { stateMachineArn?: string; name?: string; input?: string }): {
    executionArn: string;
    startDate: Date;
  } {
    const stateMachineArn = request.stateMachineArn ?? '';
    const machine = this.#machines.get(stateMachineArn);
    if (!machine)
      throw new ServiceFault(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${stateMachineArn}'`,
      );
    const name = request.name ?? `${this.#clock.now()}`;
    if (!EXECUTION_NAME.test(name)) throw new ServiceFault('InvalidName', `Invalid Name: '${name}'`);
    const input = request.input ?? '{}';
    let parsedInput: unknown;
    try {
      parsedInput = JSON.parse(input);
    } catch (error) {
      throw new ServiceFault('InvalidExecutionInput', 'Invalid execution input: not JSON', 400, {
        cause: error,
      });
    }
    const machineName = stateMachineArn.split(':').pop() ?? 'machine';
    const executionArn = `arn:aws:states:${this.#region}:${this.#account}:execution:${machineName}:${name}`;
    const existing = this.#executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: existing.startDate };
      }
      throw new ServiceFault('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const execution = this.#run(machine, { executionArn, name, stateMachineArn, input, parsedInput });
    this.#executions.set(executionArn, execution);
    return { executionArn, startDate: execution.startDate };
  }

  /** DescribeExecution. */
  describeExecution(request: { executionArn?: string }) {
    const execution = this.#require(request.executionArn);
    return {
      executionArn: execution.executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate,
      input: execution.input,
      ...(execution.stopDate ? { stopDate: execution.stopDate } : {}),
      ...(execution.output !== undefined ? { output: execution.output } : {}),
      ...(execution.error !== undefined ? { error: execution.error } : {}),
      ...(execution.cause !== undefined ? { cause: execution.cause } : {}),
    };
  }

  /** GetExecutionHistory, with maxResults (default 100, at most 1000), nextToken and reverseOrder. */
  getExecutionHistory(request: {
    executionArn?: string;
    maxResults?: number;
    nextToken?: string;
    reverseOrder?: boolean;
  }) {
    const execution = this.#require(request.executionArn);
    const events = request.reverseOrder ? [...execution.events].reverse() : execution.events;
    const size = Math.min(Math.max(request.maxResults ?? 100, 1), 1000);
    const start = request.nextToken === undefined ? 0 : Number(request.nextToken);
    if (!Number.isInteger(start) || start < 0 || start > events.length) {
      throw new ServiceFault('InvalidToken', 'Invalid Token');
    }
    const page = events.slice(start, start + size);
    return {
      events: page,
      ...(start + size < events.length ? { nextToken: String(start + size) } : {}),
    };
  }

  /** The SDK actions, for SimAccount.extend('SFN', action, handler). */
  handlers(): Record<'StartExecution' | 'DescribeExecution' | 'GetExecutionHistory', Handler> {
    return {
      StartExecution: ((input: Parameters<LocalStepFunctions['startExecution']>[0]) =>
        this.startExecution(input)) as Handler,
      DescribeExecution: ((input: { executionArn?: string }) => this.describeExecution(input)) as Handler,
      GetExecutionHistory: ((input: Parameters<LocalStepFunctions['getExecutionHistory']>[0]) =>
        this.getExecutionHistory(input)) as Handler,
    };
  }

  #require(executionArn: string | undefined): LocalExecution {
    const execution = executionArn === undefined ? undefined : this.#executions.get(executionArn);
    if (!execution)
      throw new ServiceFault('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  #run(
    machine: Registered,
    start: {
      executionArn: string;
      name: string;
      stateMachineArn: string;
      input: string;
      parsedInput: unknown;
    },
  ): LocalExecution {
    const clock = this.#clock;
    const states = machine.definition.States as Record<
      string,
      { Type: string; Resource?: string; Seconds?: number; Retry?: readonly Retrier[] }
    >;
    let resolveDone: () => void = () => {};
    const execution: LocalExecution = {
      executionArn: start.executionArn,
      name: start.name,
      stateMachineArn: start.stateMachineArn,
      input: start.input,
      startDate: new Date(clock.now()),
      status: 'RUNNING',
      events: [],
      done: new Promise<void>((resolve) => {
        resolveDone = resolve;
      }),
    };

    // Virtual time owed by Wait states and Retry pauses, slept before the next Task runs.
    let owedMs = 0;
    // Consecutive failures of the Task now running, per retrier, to compute its backoff like the engine does.
    let retrying: { state: string; attempts: number[] } | undefined;
    const waitTimeOverrides = new Proxy({} as Record<string, number>, {
      get: (_target, property) => {
        if (typeof property !== 'string') return undefined;
        const state = states[property];
        if (state?.Type !== 'Wait') return undefined;
        owedMs += (state.Seconds ?? 0) * 1000;
        return 0;
      },
    });
    const retryIntervalOverrides = Object.fromEntries(
      Object.entries(states)
        .filter(([, state]) => state.Retry !== undefined)
        .map(([name]) => [name, 0]),
    );
    const taskResourceLocalHandlers = Object.fromEntries(
      Object.entries(states)
        .filter(([, state]) => state.Type === 'Task')
        .map(([name, state]) => [
          name,
          async (input: unknown) => {
            const owed = owedMs;
            owedMs = 0;
            if (owed > 0) await clock.sleep(owed);
            const attempts = retrying?.state === name ? retrying.attempts : (state.Retry ?? []).map(() => 0);
            retrying = { state: name, attempts };
            try {
              const result = await machine.runTask(state.Resource ?? '', input, name);
              retrying = undefined;
              return result as never;
            } catch (error) {
              owedMs += retryPause(state.Retry ?? [], attempts, error);
              throw error;
            }
          },
        ]),
    );

    // A copy: the engine may rewrite the definition it is given (its validator does), and the synthesized one is
    // shared by every run. Not validated again: register did.
    const engine = new StateMachine(structuredClone(machine.definition), {
      validationOptions: { noValidate: true },
    });
    const run = engine.run(start.parsedInput as never, {
      overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
      context: {
        Execution: { Id: start.executionArn, Name: start.name, StartTime: execution.startDate.toISOString() },
        StateMachine: { Id: start.stateMachineArn },
      },
    });
    // The result settles too; the event log is what records it.
    run.result.catch(() => {});

    let floor = clock.now();
    let waitEnds = 0;
    const record = (type: string, details: Partial<HistoryEventRecord>, at?: number) => {
      const timestamp = Math.max(at ?? clock.now(), floor);
      floor = timestamp;
      const id = execution.events.length + 1;
      const event = { id, previousEventId: id - 1, timestamp: new Date(timestamp), type, ...details };
      execution.events.push(event);
      for (const listener of this.#listeners) listener(execution, event);
    };
    const finish = (
      status: LocalExecutionStatus,
      fields: { output?: string; error?: string; cause?: string },
    ) => {
      execution.status = status;
      execution.stopDate = new Date(Math.max(clock.now(), floor));
      if (fields.output !== undefined) execution.output = fields.output;
      if (fields.error !== undefined) execution.error = fields.error;
      if (fields.cause !== undefined) execution.cause = fields.cause;
      resolveDone();
    };

    const consume = async () => {
      for await (const event of run.eventLogs) {
        this.#recordEngineEvent(event as EngineEvent, states, record, finish, {
          waitEntered: (seconds) => {
            waitEnds = Math.max(clock.now(), floor) + seconds * 1000;
          },
          waitEnds: () => waitEnds,
        });
        if (execution.status !== 'RUNNING') return;
      }
    };
    consume().catch((error: unknown) => {
      finish('FAILED', {
        error: 'States.Runtime',
        cause: error instanceof Error ? error.message : String(error),
      });
    });
    return execution;
  }

  #recordEngineEvent(
    event: EngineEvent,
    states: Record<string, { Type: string; Resource?: string; Seconds?: number }>,
    record: (type: string, details: Partial<HistoryEventRecord>, at?: number) => void,
    finish: (
      status: LocalExecutionStatus,
      fields: { output?: string; error?: string; cause?: string },
    ) => void,
    wait: { waitEntered: (seconds: number) => void; waitEnds: () => number },
  ): void {
    const json = (value: unknown) => JSON.stringify(value ?? null);
    switch (event.type) {
      case 'ExecutionStarted':
        record('ExecutionStarted', { executionStartedEventDetails: { input: json(event.input) } });
        return;
      case 'ExecutionSucceeded':
        record('ExecutionSucceeded', { executionSucceededEventDetails: { output: json(event.output) } });
        finish('SUCCEEDED', { output: json(event.output) });
        return;
      case 'ExecutionFailed': {
        const cause = typeof event.Cause === 'string' ? event.Cause : json(event.Cause);
        record('ExecutionFailed', { executionFailedEventDetails: { error: event.Error, cause } });
        finish('FAILED', { error: event.Error, cause });
        return;
      }
      case 'ExecutionAborted':
      case 'ExecutionTimeout':
        record(event.type === 'ExecutionAborted' ? 'ExecutionAborted' : 'ExecutionTimedOut', {});
        finish('ABORTED', {});
        return;
      case 'StateEntered': {
        const { name, type } = event.state;
        record(`${type}StateEntered`, { stateEnteredEventDetails: { name, input: json(event.state.input) } });
        const resource = states[name]?.Resource ?? '';
        if (type === 'Task') this.#recordTaskScheduled(resource, event.state.input, record);
        if (type === 'Wait') wait.waitEntered(states[name]?.Seconds ?? 0);
        return;
      }
      case 'StateExited': {
        const { name, type } = event.state;
        if (type === 'Task') {
          const resource = states[name]?.Resource ?? '';
          if (isLambda(resource))
            record('LambdaFunctionSucceeded', {
              lambdaFunctionSucceededEventDetails: { output: json(event.state.output) },
            });
          else
            record('TaskSucceeded', {
              taskSucceededEventDetails: { ...taskResource(resource), output: json(event.state.output) },
            });
        }
        if (type === 'Fail' || type === 'Succeed') return;
        record(
          `${type}StateExited`,
          { stateExitedEventDetails: { name, output: json(event.state.output) } },
          type === 'Wait' ? wait.waitEnds() : undefined,
        );
        return;
      }
      case 'StateFailed': {
        const { name, type } = event.state;
        if (type !== 'Task') return;
        const resource = states[name]?.Resource ?? '';
        const cause = typeof event.Cause === 'string' ? event.Cause : json(event.Cause);
        if (isLambda(resource))
          record('LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: { error: event.Error, cause } });
        else
          record('TaskFailed', {
            taskFailedEventDetails: { ...taskResource(resource), error: event.Error, cause },
          });
        return;
      }
      case 'StateRetried': {
        const { name } = event.state;
        this.#recordTaskScheduled(states[name]?.Resource ?? '', event.state.input, record);
        return;
      }
      default:
        return;
    }
  }

  #recordTaskScheduled(
    resource: string,
    input: unknown,
    record: (type: string, details: Partial<HistoryEventRecord>) => void,
  ): void {
    const parameters = JSON.stringify(input ?? null);
    if (isLambda(resource)) {
      record('LambdaFunctionScheduled', {
        lambdaFunctionScheduledEventDetails: { resource, input: parameters },
      });
      record('LambdaFunctionStarted', {});
    } else {
      record('TaskScheduled', {
        taskScheduledEventDetails: { ...taskResource(resource), region: this.#region, parameters },
      });
      record('TaskStarted', {});
    }
  }
}

/** A Lambda function ARN used directly as a Task resource (LambdaInvoke with payloadResponseOnly). */
const isLambda = (resource: string): boolean => /^arn:[^:]+:lambda:/.test(resource);

/** "arn:aws:states:::sns:publish" → resourceType sns, resource publish. */
function taskResource(resource: string): { resourceType: string; resource: string } {
  const [, , , , , service = 'unknown', action = resource] = resource.split(':');
  return { resourceType: service, resource: action };
}

/**
 * The pause before the engine retries a failed Task, as the first matching retrier computes it (IntervalSeconds
 * × BackoffRate^attempt, capped at MaxDelaySeconds); 0 when no retrier matches or its attempts are spent.
 */
function retryPause(retriers: readonly Retrier[], attempts: number[], error: unknown): number {
  const name = error instanceof Error ? error.name : '';
  const index = retriers.findIndex((r) =>
    r.ErrorEquals.some((e) => e === name || e === 'States.ALL' || e === 'States.TaskFailed'),
  );
  const retrier = retriers[index];
  if (retrier === undefined) return 0;
  const attempt = attempts[index] ?? 0;
  if (attempt >= (retrier.MaxAttempts ?? 3)) return 0;
  attempts[index] = attempt + 1;
  const seconds = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** attempt;
  return Math.min(seconds, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY) * 1000;
}

/**
 * An error as a Lambda function's failure reaches Step Functions: Error is the errorType (the error's name) and
 * Cause the JSON document {errorType, errorMessage, trace} the Lambda runtime reports.
 */
export function lambdaFailure(error: unknown): Error {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const failure = new Error(JSON.stringify({ errorType: name, errorMessage: message, trace: [] }));
  failure.name = name;
  return failure;
}
