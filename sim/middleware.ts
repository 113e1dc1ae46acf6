import { AsyncLocalStorage } from 'node:async_hooks';
import { MAXIMUM_RETRY_DELAY, StandardRetryStrategy } from '@smithy/core/retry';
import type {
  FinalizeRequestMiddleware,
  HandlerExecutionContext,
  MiddlewareStack,
  RetryErrorInfo,
  RetryStrategyV2,
  StandardRetryToken,
} from '@smithy/types';
import type { VirtualClock } from './clock.ts';
import { ServiceFault } from './faults.ts';
import type { ApiLatency } from './latency.ts';
import type { Dice } from './random.ts';
import type { ServiceHandlers } from './services/common.ts';
import type { Throttle } from './throttle.ts';

/**
 * How the simulated account plugs in beneath the SDK: middleware on each client's stack answers every command
 * from the model after the SDK's own retry middleware, so the production adapters, the SDK's retries and its
 * error deserialisation run exactly as in Lambda. Successes are returned as the command's output; failures are
 * turned into the service's wire-format error response and handed to the SDK's deserializer, which builds the
 * same exception classes AWS would cause. Retry backoff sleeps on the virtual clock.
 */

/** One controller invocation, as far as the SDK calls made inside it are concerned. */
export interface Invocation {
  readonly id: number;
  /** set when the invocation dies (simulated crash or Lambda timeout): its calls and sleeps never finish */
  dead: boolean;
  /** route writes (ReplaceRoute, CreateRoute) answered so far */
  routeWrites: number;
  /** die instead of answering the route write after this many; consumed by the first invocation it kills */
  crashAfterRouteWrites?: number;
  /** told when the invocation dies of a crash */
  onCrash?: () => void;
}

/** The invocation the current async task belongs to (undefined outside controller invocations). */
export const currentInvocation = new AsyncLocalStorage<Invocation>();

/** Counters of what the simulated services were asked. */
export interface ApiStats {
  /** attempts per "Service Action", including retries */
  readonly calls: Map<string, number>;
  /** throttled attempts per "Service Action" */
  readonly throttled: Map<string, number>;
}

/** What the middleware answers from. */
export interface SimBackend {
  readonly clock: VirtualClock;
  readonly dice: Dice;
  readonly latency: ApiLatency;
  readonly throttle: Throttle;
  /** handlers by SDK serviceId ("EC2", "SSM", "CloudWatch", "SFN") */
  readonly services: Map<string, ServiceHandlers>;
  readonly stats: ApiStats;
  /**
   * The scenario's controller crashes still to come, as route-write counts: each invocation is armed with the
   * first, and the one that reaches it dies and removes it.
   */
  readonly crashes: number[];
  /** `state-store-errors` faults: shares of the state table's calls that fail for a while */
  readonly stateStoreFaults: StateStoreFault[];
  /** told of every route write and state-table call that succeeded */
  readonly callObservers: ((call: ObservedCall) => void)[];
}

/** A call that succeeded: what the account's call observers are told. */
export interface ObservedCall {
  /** epoch ms at which the service carried it out */
  readonly at: number;
  /** the controller invocation that made it, if any */
  readonly invocation?: number;
  readonly service: string;
  readonly action: string;
  readonly input: unknown;
}

function observe(backend: SimBackend, call: Omit<ObservedCall, 'at' | 'invocation'>): void {
  const id = currentInvocation.getStore()?.id;
  const observed = { ...call, at: backend.clock.now(), ...(id !== undefined ? { invocation: id } : {}) };
  for (const observer of backend.callObservers) observer(observed);
}

/** A share of the state table's calls that fail, each attempt with DynamoDB throttling or a 500, for a while. */
export interface StateStoreFault {
  /** 0..1 */
  readonly rate: number;
  /** epoch ms from which it is in force */
  readonly from: number;
  /** epoch ms at which it ends */
  readonly until: number;
}

/** An SDK client as customize() receives it: enough of its shape to add middleware and adjust config. */
export interface CustomizableClient {
  readonly middlewareStack: MiddlewareStack<object, object>;
  readonly config: object;
}

interface Call {
  readonly service: string;
  readonly action: string;
  readonly input: unknown;
  fault?: ServiceFault;
}

const CALL = Symbol('vpn-failover.sim.call');
type SimContext = HandlerExecutionContext & { [CALL]?: Call };

const never = <T>(): Promise<T> => new Promise<T>(() => {});
const ROUTE_WRITES = new Set(['ReplaceRoute', 'CreateRoute']);
const encoder = new TextEncoder();

const escapeXml = (text: string): string =>
  text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c,
  );

/** The service's wire-format error response for a fault: EC2 query XML, or the JSON protocols. */
function errorResponse(service: string, fault: ServiceFault, requestId: string) {
  if (service === 'EC2') {
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(fault.code)}</Code><Message>${escapeXml(fault.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
    return {
      statusCode: fault.httpStatus,
      headers: { 'content-type': 'text/xml;charset=UTF-8' },
      body: encoder.encode(body),
    };
  }
  const version = service === 'SSM' ? '1.1' : '1.0';
  return {
    statusCode: fault.httpStatus,
    headers: { 'content-type': `application/x-amz-json-${version}`, 'x-amzn-requestid': requestId },
    body: encoder.encode(JSON.stringify({ __type: fault.code, message: fault.message })),
  };
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Answer one attempt of a simulated call: latency, throttling, the crash option, then the model. */
async function answer(
  backend: SimBackend,
  call: Call,
): Promise<{ output: object } | { fault: ServiceFault }> {
  const { clock, dice, stats } = backend;
  const key = `${call.service} ${call.action}`;
  const invocation = currentInvocation.getStore();
  if (invocation?.dead) return never();
  const handler = backend.services.get(call.service)?.[call.action];
  if (!handler) {
    // Not retried by the SDK (a plain error is a client error), and names what is missing.
    throw new Error(`the simulated account does not implement ${call.service} ${call.action}`);
  }
  count(stats.calls, key);
  const range =
    call.service === 'EC2'
      ? /^(Describe|List|Get)/.test(call.action)
        ? backend.latency.ec2Read
        : backend.latency.ec2Write
      : call.service === 'SSM'
        ? backend.latency.ssm
        : call.service === 'CloudWatch'
          ? backend.latency.cloudwatch
          : backend.latency.other;
  // The request reaches the service half way through the round trip; the answer takes the other half.
  const half = dice.between(`latency ${key}`, range) / 2;
  await clock.sleep(half);
  let result: { output: object } | { fault: ServiceFault };
  const throttled = backend.throttle.check(call.service, call.action, call.input, clock.now());
  if (throttled) {
    count(stats.throttled, key);
    result = { fault: throttled };
  } else {
    if (invocation && ROUTE_WRITES.has(call.action)) {
      const limit = invocation.crashAfterRouteWrites;
      if (limit !== undefined && invocation.routeWrites >= limit) {
        invocation.dead = true;
        invocation.onCrash?.();
        return never();
      }
      invocation.routeWrites++;
    }
    try {
      result = { output: await handler(call.input as never) };
      if (ROUTE_WRITES.has(call.action)) observe(backend, call);
    } catch (error) {
      if (!(error instanceof ServiceFault)) throw error;
      result = { fault: error };
    }
  }
  await clock.sleep(half);
  if (invocation?.dead) return never();
  return result;
}

/**
 * A retry strategy with the SDK's own standard policy (attempts, retry quota, which errors are retryable,
 * exponential backoff with jitter, docs/aws-behaviour.md#sdk-retries) whose backoff elapses on the virtual clock.
 * The SDK strategy is given a backoff that reports 0 ms (so its own real-time wait is a zero timeout) and records
 * the delay it would have used; this wrapper then sleeps that delay on the clock. Jitter comes from the seeded
 * dice.
 */
export function virtualRetryStrategy(clock: VirtualClock, dice: Dice, maxAttempts: number): RetryStrategyV2 {
  const pending: number[] = [];
  let base = 100;
  const backoff = {
    setDelayBase: (delayBase: number) => {
      base = delayBase;
    },
    computeNextBackoffDelay: (attempt: number) => {
      pending.push(
        Math.floor(Math.min(MAXIMUM_RETRY_DELAY, dice.unit('retry jitter') * 2 ** attempt * base)),
      );
      return 0;
    },
  };
  const inner = new StandardRetryStrategy({ maxAttempts, backoff });
  return {
    acquireInitialRetryToken: (scope: string) => inner.acquireInitialRetryToken(scope),
    refreshRetryTokenForRetry: async (token: StandardRetryToken, info: RetryErrorInfo) => {
      // The SDK strategy computes the delay synchronously, then awaits a zero timeout: delays are taken in the
      // order they were computed.
      const next = await clock.track(() => inner.refreshRetryTokenForRetry(token, info));
      await clock.sleep(pending.shift() ?? 0);
      return next;
    },
    recordSuccess: (token: StandardRetryToken) => inner.recordSuccess(token),
  };
}

/** The error one attempt at the state table fails with under the `state-store-errors` faults, if any. */
function stateStoreFault(backend: SimBackend, action: string): ServiceFault | undefined {
  const now = backend.clock.now();
  for (const fault of backend.stateStoreFaults) {
    if (now < fault.from || now >= fault.until) continue;
    if (!backend.dice.chance(`state store fault ${action}`, fault.rate)) continue;
    return backend.dice.chance(`state store fault kind ${action}`, 0.5)
      ? new ServiceFault(
          'ProvisionedThroughputExceededException',
          'The level of configured provisioned throughput for the table was exceeded.',
        )
      : new ServiceFault('InternalServerError', 'Internal server error', 500);
  }
  return undefined;
}

/**
 * Install the simulator on one SDK client. Simulated services (EC2, SSM, CloudWatch...) are answered from the
 * model; the DynamoDB client keeps talking to the local DynamoDB, but each attempt's request is tracked as real
 * work (time stands still meanwhile), dies with a dead invocation, and may fail under a `state-store-errors`
 * fault before it is sent. Retry backoff, of every client, sleeps on the virtual clock.
 */
export function installSimulator(client: CustomizableClient, backend: SimBackend): void {
  const config = client.config as {
    serviceId?: string;
    credentials?: unknown;
    retryStrategy?: unknown;
    maxAttempts?: () => Promise<number>;
  };
  const service = config.serviceId ?? 'unknown';
  // Fixed credentials: the SDK signs every request, and the default provider chain would look for real ones.
  config.credentials = async () => ({ accessKeyId: 'SIMULATED', secretAccessKey: 'simulated' });
  const stack = client.middlewareStack;

  let strategy: Promise<RetryStrategyV2> | undefined;
  config.retryStrategy = () => {
    strategy ??= (async () =>
      virtualRetryStrategy(backend.clock, backend.dice, (await config.maxAttempts?.()) ?? 3))();
    return strategy;
  };

  if (service === 'DynamoDB') {
    // After the retry middleware, so each attempt is counted and may fail on its own; the SDK retries it.
    const attempt: FinalizeRequestMiddleware<object, object> =
      (next, context: SimContext) => async (args) => {
        if (currentInvocation.getStore()?.dead) return never();
        const action = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        count(backend.stats.calls, `DynamoDB ${action}`);
        const fault = stateStoreFault(backend, action);
        context[CALL] = { service, action, input: args.input, ...(fault ? { fault } : {}) };
        return next(args);
      };
    stack.addRelativeTo(attempt, {
      relation: 'before',
      toMiddleware: 'httpSigningMiddleware',
      name: 'simulatorStateStoreAttempt',
    });
    // Inside the SDK's deserializer: a failed attempt gets the error response, any other goes to the network.
    stack.add(
      (next, context: SimContext) => async (args) => {
        const call = context[CALL];
        if (call?.fault) {
          const requestId = backend.dice.hex(`request ${call.action} ${backend.clock.now()}`, 32);
          return { response: errorResponse(service, call.fault, requestId) } as never;
        }
        const result = await backend.clock.track(() => next(args));
        if (currentInvocation.getStore()?.dead) return never();
        const status = (result.response as { statusCode?: number }).statusCode;
        if (call && status === 200) observe(backend, call);
        return result;
      },
      { step: 'deserialize', name: 'simulatorStateStoreRequest', priority: 'low' },
    );
    return;
  }
  stack.add(
    (next, context: SimContext) => async (args) => {
      const action = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      context[CALL] = { service, action, input: args.input };
      return next(args);
    },
    { step: 'initialize', name: 'simulatorCapture', priority: 'high' },
  );
  // After the retry middleware, so each attempt is answered separately and throttles are retried by the SDK;
  // before signing, which a simulated service does not check (only error responses go on to be signed).
  const respond: FinalizeRequestMiddleware<object, object> = (next, context: SimContext) => async (args) => {
    const call = context[CALL];
    if (!call) throw new Error('simulator: call not captured');
    const result = await answer(backend, call);
    if ('fault' in result) {
      call.fault = result.fault;
      return next(args);
    }
    const requestId = backend.dice.hex(`request ${call.action} ${backend.clock.now()}`, 32);
    return {
      output: { ...result.output, $metadata: { httpStatusCode: 200, requestId } },
      response: { statusCode: 200, headers: {}, body: new Uint8Array() },
    };
  };
  stack.addRelativeTo(respond, {
    relation: 'before',
    toMiddleware: 'httpSigningMiddleware',
    name: 'simulatorRespond',
  });
  // Inside the SDK's deserializer: hands it the error response to parse.
  stack.add(
    (_next, context: SimContext) => async () => {
      const call = context[CALL];
      if (!call?.fault) throw new Error('simulator: a request reached the network');
      const requestId = backend.dice.hex(`request ${call.action} ${backend.clock.now()}`, 32);
      return { response: errorResponse(call.service, call.fault, requestId) } as never;
    },
    { step: 'deserialize', name: 'simulatorErrorResponse', priority: 'low' },
  );
}
