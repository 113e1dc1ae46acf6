import {
  describeInstances,
  describeInstanceTypes,
  type InstanceDescription,
  type InstanceTypeDescription,
  instanceTypeOfferedIn,
  modifyInstanceType,
  startInstance,
  stopInstance,
} from '../aws/ec2-resize.ts';
import { AwsError, IncorrectInstanceStateError, InvalidInstanceTypeError } from '../aws/errors.ts';
import { StateStore } from '../aws/state-store.ts';
import type { PairConfig } from '../config/schema.ts';
import { observePairs } from '../controller/observe.ts';
import { runController } from '../controller/run.ts';
import type { ControllerDeps } from '../controller/types.ts';
import { evaluateMember } from '../decide/health.ts';
import { analyseRoutes, type RouteStatus, routesConverged } from '../decide/routes.ts';
import type { Verdict } from '../domain/plan.ts';
import type { PairObservation, Role, StoredPair } from '../domain/types.ts';
import { otherRole, ROLES } from '../domain/types.ts';
import { LeaseHeldError, RouteNotConfirmedError, UnhealthyTargetError } from '../errors.ts';
import {
  MemberCarriesTrafficError,
  MemberNotHealthyError,
  PreflightFailedError,
  RoutesUnreadableError,
  SoakFailedError,
  StopTimeoutError,
} from './errors.ts';
import { concludeResize, type MemberState, type Outcome, type StepFailure } from './outcome.ts';
import { HEALTHY_POLL, STOP_POLL } from './policy.ts';
import {
  evaluatePreflight,
  finalTarget,
  type PreflightFacts,
  type PreflightResult,
  resizeContext,
} from './preflight.ts';
import { judgeSoak } from './soak.ts';
import {
  type Caught,
  isCaught,
  isContext,
  type Poll,
  parseResizeRequest,
  type ResizeContext,
  type ResizeRequest,
  type Stage,
  type StepEvent,
} from './types.ts';

/**
 * The resize workflow's steps: each one short, idempotent and safe to retry, called by the one resize Lambda
 * (functions/resize/handler.ts) with the step the state machine names. Steps never wait for an instance:
 * waiting is the state machine's Wait states, and a step that polls returns the next Poll or raises a typed error
 * once its bound is hit. The only waits inside a step are the controller's own (the daemon probe's answer, the
 * route read-back), bounded by seconds.
 */

/** The resize steps need exactly what the controller needs (they call its observe and failover). */
export type ResizeDeps = ControllerDeps;

/** What an instance step reports (small: it lands in the execution history). */
export interface InstanceStepResult {
  readonly instanceId: string;
  readonly state?: string;
  readonly instanceType?: string;
  readonly action: string;
}

/** What the inspect step says about a member before reverting it. */
export interface InspectResult extends InstanceStepResult {
  readonly revertNeeded: boolean;
}

/** What a step returns, by step. */
export type StepResult =
  | ResizeContext
  | Poll
  | InstanceStepResult
  | InspectResult
  | Outcome
  | Record<string, never>;

/** Run one step. */
export async function runStep(deps: ResizeDeps, event: StepEvent): Promise<StepResult> {
  switch (event.step) {
    case 'preflight':
      return preflight(deps, event.request, event.execution);
    case 'stop':
      return stopMember(deps, event.ctx, event.stage);
    case 'checkStopped':
      return checkStopped(deps, event.ctx, event.stage, event.poll);
    case 'modify':
      return modifyMember(deps, event.ctx, event.stage, event.to);
    case 'start':
      return startMember(deps, event.ctx, event.stage);
    case 'checkHealthy':
      return checkHealthy(deps, event.ctx, event.stage, event.poll);
    case 'failover':
      return failOverToResized(deps, event.ctx);
    case 'soak':
      return soak(deps, event.ctx, event.poll);
    case 'rollback':
      return rollBack(deps, event.ctx);
    case 'inspect':
      return inspect(deps, event.ctx, event.stage);
    case 'failback':
      return failBack(deps, event.ctx);
    case 'conclude':
      return conclude(deps, event);
  }
}

const storeOf = (deps: ResizeDeps) =>
  new StateStore({ dynamo: deps.clients.dynamo, tableName: deps.tableName, clock: deps.clock });

function pairNamed(deps: ResizeDeps, name: string): PairConfig | undefined {
  return deps.config.pairs.find((p) => p.name === name);
}

function configuredPair(deps: ResizeDeps, ctx: ResizeContext): PairConfig {
  const pair = pairNamed(deps, ctx.pair);
  if (!pair) throw new PreflightFailedError(ctx.pair, [`pair ${ctx.pair} is no longer configured`]);
  return pair;
}

/** The pair as the controller sees it right now: stored memory, observation, verdicts, routes. */
interface PairView {
  readonly stored: StoredPair;
  readonly observation: PairObservation;
  readonly verdicts: Readonly<Record<Role, Verdict>>;
  readonly routes: readonly RouteStatus[] | undefined;
}

/** Observe one pair with the controller's own observe and health rules (the same signals it fails over on). */
async function viewPair(deps: ResizeDeps, pair: PairConfig): Promise<PairView> {
  const stored = await storeOf(deps).loadPair(pair.name);
  const observations = await observePairs(deps, [pair], new Map([[pair.name, stored.memory]]));
  const observation = observations.get(pair.name) as PairObservation;
  const now = deps.clock.now();
  const verdicts = {
    primary: evaluateMember({ pair, role: 'primary', observation, now }),
    standby: evaluateMember({ pair, role: 'standby', observation, now }),
  };
  return { stored, observation, verdicts, routes: analyseRoutes(pair, observation) };
}

/** The member every managed route points at, or undefined when they are split or unreadable. */
function carrierOf(routes: readonly RouteStatus[] | undefined): Role | undefined {
  if (routes === undefined || !routes.some((r) => r.target !== 'foreign')) return undefined;
  return ROLES.find((role) => routesConverged(routes, role));
}

/** One member by DescribeInstances; undefined when EC2 does not know it. */
async function describeMember(
  deps: ResizeDeps,
  instanceId: string,
): Promise<InstanceDescription | undefined> {
  try {
    const [instance] = await describeInstances(deps.clients.ec2, [instanceId]);
    return instance;
  } catch (error) {
    if (error instanceof AwsError && error.code === 'InvalidInstanceID.NotFound') return undefined;
    throw error;
  }
}

async function requireMember(deps: ResizeDeps, instanceId: string): Promise<InstanceDescription> {
  const instance = await describeMember(deps, instanceId);
  if (!instance) throw new IncorrectInstanceStateError(`instance ${instanceId} does not exist`);
  return instance;
}

async function describeType(deps: ResizeDeps, type: string): Promise<InstanceTypeDescription | undefined> {
  try {
    const [description] = await describeInstanceTypes(deps.clients.ec2, [type]);
    return description;
  } catch (error) {
    if (error instanceof InvalidInstanceTypeError) return undefined;
    throw error;
  }
}

/**
 * Read everything the preflight checks, read-only: the members, the requested and current instance types, the
 * offerings in the members' AZs, health by the controller's signals, the routes and the stored lease. The CLI's
 * --dry-run calls this too.
 */
export async function gatherPreflightFacts(
  deps: ResizeDeps,
  pair: PairConfig,
  request: ResizeRequest,
  owner?: string,
): Promise<PreflightFacts> {
  const [primary, standby, targetType, view] = await Promise.all([
    describeMember(deps, pair.primary.instanceId),
    describeMember(deps, pair.standby.instanceId),
    describeType(deps, request.instanceType),
    viewPair(deps, pair),
  ]);
  const instances = { ...(primary ? { primary } : {}), ...(standby ? { standby } : {}) };
  const members = [primary, standby].flatMap((m) => (m ? [m] : []));
  const currentTypeNames = [...new Set(members.flatMap((m) => (m.instanceType ? [m.instanceType] : [])))];
  const zones = [...new Set(members.flatMap((m) => (m.availabilityZone ? [m.availabilityZone] : [])))];
  const [currentTypes, offeredIn] = await Promise.all([
    currentTypeNames.length === 0
      ? Promise.resolve([])
      : describeInstanceTypes(deps.clients.ec2, currentTypeNames),
    targetType === undefined
      ? Promise.resolve(new Set<string>())
      : instanceTypeOfferedIn(deps.clients.ec2, request.instanceType, zones),
  ]);
  const lease = view.stored.memory.lease;
  return {
    pair,
    request,
    instances,
    ...(targetType ? { targetType } : {}),
    currentTypes: new Map(currentTypes.map((t) => [t.instanceType, t])),
    offeredIn,
    verdicts: view.verdicts,
    routes: view.routes,
    ...(lease ? { lease } : {}),
    dryRun: deps.config.dryRun || pair.dryRun === true,
    ...(owner ? { owner } : {}),
    now: deps.clock.now(),
  };
}

/** Validate the request, find the pair and check the lease before reading anything else. */
function requestedPair(deps: ResizeDeps, input: unknown): { request: ResizeRequest; pair: PairConfig } {
  const request = parseResizeRequest(input);
  const pair = pairNamed(deps, request.pair);
  if (!pair) {
    throw new PreflightFailedError(request.pair, [
      `unknown pair "${request.pair}" (configured: ${deps.config.pairs.map((p) => p.name).join(', ')})`,
    ]);
  }
  return { request, pair };
}

/** The preflight, read-only (no lease): for --dry-run. */
export async function dryRunPreflight(
  deps: ResizeDeps,
  input: unknown,
): Promise<{ request: ResizeRequest; pair: PairConfig; facts: PreflightFacts; result: PreflightResult }> {
  const { request, pair } = requestedPair(deps, input);
  const facts = await gatherPreflightFacts(deps, pair, request);
  return { request, pair, facts, result: evaluatePreflight(facts) };
}

const describeLease = (owner: string, until: number, member?: Role) =>
  `${owner} until ${new Date(until).toISOString()}${member ? ` (${member} under maintenance)` : ''}`;

/**
 * Preflight: refuse a second resize of the pair with LeaseHeldError first, then run every check; only when all
 * pass take the lease (owner: the execution; member: the idle one, resized first). Nothing is stopped here.
 */
async function preflight(deps: ResizeDeps, input: unknown, owner: string): Promise<ResizeContext> {
  const { request, pair } = requestedPair(deps, input);
  const store = storeOf(deps);
  const held = (await store.loadPair(pair.name)).memory.lease;
  if (held !== undefined && held.until >= deps.clock.now() && held.owner !== owner) {
    throw new LeaseHeldError(
      `the maintenance lease of pair ${pair.name} is held by ${describeLease(held.owner, held.until, held.member)}: another resize is under way`,
    );
  }
  const facts = await gatherPreflightFacts(deps, pair, request, owner);
  const result = evaluatePreflight(facts);
  if (!result.ok) {
    throw new PreflightFailedError(
      pair.name,
      result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
    );
  }
  const ctx = resizeContext(facts, result, owner);
  const now = deps.clock.now();
  await store.acquireLease(
    pair.name,
    { owner, member: ctx.first, until: now + ctx.leaseSeconds * 1000 },
    now,
  );
  await store.appendHistory(pair.name, now, {
    event: 'resize-started',
    owner,
    instanceType: ctx.instanceType,
    originalTypes: ctx.originalTypes,
    first: ctx.first,
    failback: ctx.failback,
    soakSeconds: ctx.soakSeconds,
  });
  deps.log.info({ pair: pair.name, owner, ctx }, 'resize preflight passed; lease taken');
  return ctx;
}

/**
 * Stop a member, after proving it carries no traffic: every managed route is read again and the lease must be
 * ours and cover this member (so the controller cannot move traffic to it in between). A member already
 * stopping or stopped is left as it is.
 */
async function stopMember(deps: ResizeDeps, ctx: ResizeContext, stage: Stage): Promise<InstanceStepResult> {
  const pair = configuredPair(deps, ctx);
  const role = ctx[stage];
  const instanceId = pair[role].instanceId;
  const view = await viewPair(deps, pair);
  const lease = view.stored.memory.lease;
  if (
    lease === undefined ||
    lease.owner !== ctx.owner ||
    lease.until < deps.clock.now() ||
    lease.member !== role
  ) {
    throw new LeaseHeldError(
      `refusing to stop ${role} ${instanceId}: the lease of pair ${pair.name} is ${lease ? `held by ${describeLease(lease.owner, lease.until, lease.member)}` : 'not held'}, not by ${ctx.owner} for ${role}`,
    );
  }
  if (view.routes === undefined) {
    throw new RoutesUnreadableError(
      `refusing to stop ${role} ${instanceId}: the route tables of pair ${pair.name} could not be read`,
    );
  }
  const carried = view.routes.filter((r) => r.target === role);
  if (carried.length > 0) {
    throw new MemberCarriesTrafficError(
      `refusing to stop ${role} ${instanceId}: it carries traffic (${carried.map((r) => `${r.routeTableId} ${r.destination}`).join(', ')})`,
    );
  }
  const instance = await requireMember(deps, instanceId);
  switch (instance.state) {
    case 'pending':
    case 'running':
      await stopInstance(deps.clients.ec2, instanceId);
      return { ...described(instance), action: 'StopInstances' };
    case 'stopping':
    case 'stopped':
      return { ...described(instance), action: 'already stopping' };
    default:
      throw new IncorrectInstanceStateError(
        `cannot stop ${role} ${instanceId}: it is ${instance.state ?? 'in an unknown state'}`,
      );
  }
}

/** What a step reports about the instance it acted on. */
const described = (instance: InstanceDescription) => ({
  instanceId: instance.instanceId,
  ...(instance.state ? { state: instance.state } : {}),
  ...(instance.instanceType ? { instanceType: instance.instanceType } : {}),
});

/** One poll of "stopped yet?"; StopTimeoutError once the bound is reached. */
async function checkStopped(deps: ResizeDeps, ctx: ResizeContext, stage: Stage, poll: Poll): Promise<Poll> {
  const pair = configuredPair(deps, ctx);
  const role = ctx[stage];
  const instance = await requireMember(deps, pair[role].instanceId);
  const attempt = poll.attempt + 1;
  if (instance.state === 'stopped') return { attempt, done: true, detail: `${role} stopped` };
  if (attempt >= STOP_POLL.maxAttempts) {
    throw new StopTimeoutError(
      `${role} ${instance.instanceId} is still ${instance.state ?? 'in an unknown state'} after ${attempt} checks ${STOP_POLL.intervalSeconds}s apart`,
    );
  }
  return { attempt, done: false, detail: `${role} ${instance.state ?? 'state unknown'}` };
}

/** Set the member's type to the requested one or back to its original; nothing to do when it already is. */
async function modifyMember(
  deps: ResizeDeps,
  ctx: ResizeContext,
  stage: Stage,
  to: 'target' | 'original',
): Promise<InstanceStepResult> {
  const pair = configuredPair(deps, ctx);
  const role = ctx[stage];
  const type = to === 'target' ? ctx.instanceType : ctx.originalTypes[role];
  const instance = await requireMember(deps, pair[role].instanceId);
  if (instance.instanceType === type) return { ...described(instance), action: `already ${type}` };
  await modifyInstanceType(deps.clients.ec2, instance.instanceId, type);
  return { ...described(instance), instanceType: type, action: `ModifyInstanceAttribute ${type}` };
}

/** Start the member (InsufficientCapacityError when the AZ has no capacity for its type). */
async function startMember(deps: ResizeDeps, ctx: ResizeContext, stage: Stage): Promise<InstanceStepResult> {
  const pair = configuredPair(deps, ctx);
  const instance = await requireMember(deps, pair[ctx[stage]].instanceId);
  if (instance.state === 'pending' || instance.state === 'running') {
    return { ...described(instance), action: 'already starting' };
  }
  await startInstance(deps.clients.ec2, instance.instanceId);
  return { ...described(instance), action: 'StartInstances' };
}

/**
 * One poll of "healthy yet?" by the controller's signals (status checks, daemon probe, tunnel). A member that
 * stopped again will not come back by itself: MemberNotHealthyError at once; otherwise at the bound.
 */
async function checkHealthy(deps: ResizeDeps, ctx: ResizeContext, stage: Stage, poll: Poll): Promise<Poll> {
  const pair = configuredPair(deps, ctx);
  const role = ctx[stage];
  const view = await viewPair(deps, pair);
  const verdict = view.verdicts[role];
  const attempt = poll.attempt + 1;
  if (verdict.health === 'healthy') return { attempt, done: true, detail: `${role} healthy` };
  const state = view.observation.instances[role].state;
  const gone = state === 'stopped' || state === 'terminated' || state === 'shutting-down';
  if (gone || attempt >= HEALTHY_POLL.maxAttempts) {
    throw new MemberNotHealthyError(
      `${role} ${pair[role].instanceId} did not become healthy${gone ? ` (it is ${state})` : ` after ${attempt} checks ${HEALTHY_POLL.intervalSeconds}s apart`}: ${verdict.reason}`,
    );
  }
  return { attempt, done: false, detail: `${role} ${verdict.health}: ${verdict.reason}` };
}

/** Move the lease to `member` (or to no member) for another lease period. */
async function moveLease(deps: ResizeDeps, ctx: ResizeContext, member: Role | undefined): Promise<void> {
  const now = deps.clock.now();
  await storeOf(deps).acquireLease(
    ctx.pair,
    { owner: ctx.owner, ...(member ? { member } : {}), until: now + ctx.leaseSeconds * 1000 },
    now,
  );
}

/**
 * Move traffic through the controller's own failover (refused with UnhealthyTargetError unless the target is
 * healthy). Routes that did not confirm raise RouteNotConfirmedError, which the state machine retries: the
 * failover is idempotent, a second run repairs what the first left.
 */
async function failOverTo(deps: ResizeDeps, ctx: ResizeContext, to: Role): Promise<void> {
  const summary = await runController(deps, { kind: 'failover', pair: ctx.pair, to, force: false });
  // The controller answers a refusal (it is the operator's answer there); here it stops the step.
  if (summary.refused !== undefined) throw new UnhealthyTargetError(summary.refused);
  const result = summary.pairs.find((p) => p.pair === ctx.pair);
  if (result?.error !== undefined)
    throw new RouteNotConfirmedError(`failover of pair ${ctx.pair} to ${to}: ${result.error}`);
  await storeOf(deps).appendHistory(ctx.pair, deps.clock.now(), {
    event: 'resize-traffic',
    owner: ctx.owner,
    to,
    plan: result?.plan,
    routesChanged: result?.routesChanged.length ?? 0,
  });
}

/**
 * Fail over to the resized member: first the lease moves to the member about to be freed (so the controller
 * will not send traffic back to it), then the controller's failover; returns the first soak poll.
 */
async function failOverToResized(deps: ResizeDeps, ctx: ResizeContext): Promise<Poll> {
  await moveLease(deps, ctx, ctx.second);
  await failOverTo(deps, ctx, ctx.first);
  return {
    attempt: 0,
    done: false,
    soakUntil: deps.clock.now() + ctx.soakSeconds * 1000,
    unhealthyStreak: 0,
  };
}

/** One soak poll of the resized member carrying traffic, judged by judgeSoak (shared/resize/soak.ts). */
async function soak(deps: ResizeDeps, ctx: ResizeContext, poll: Poll): Promise<Poll> {
  const pair = configuredPair(deps, ctx);
  const role = ctx.first;
  const view = await viewPair(deps, pair);
  const judged = judgeSoak({
    pair,
    role,
    verdict: view.verdicts[role],
    carriesTraffic: view.routes === undefined ? undefined : carrierOf(view.routes) === role,
    poll,
    now: deps.clock.now(),
  });
  if ('failure' in judged) throw new SoakFailedError(judged.failure);
  return judged.next;
}

/** Send traffic back to the untouched member and put the lease back on the resized one, for reverting it. */
async function rollBack(deps: ResizeDeps, ctx: ResizeContext): Promise<Record<string, never>> {
  await moveLease(deps, ctx, ctx.first);
  await failOverTo(deps, ctx, ctx.second);
  return {};
}

/** Before reverting a member: is there anything to revert (not running, or not at its original type)? */
async function inspect(deps: ResizeDeps, ctx: ResizeContext, stage: Stage): Promise<InspectResult> {
  const pair = configuredPair(deps, ctx);
  const role = ctx[stage];
  const instance = await requireMember(deps, pair[role].instanceId);
  const revertNeeded = !(instance.state === 'running' && instance.instanceType === ctx.originalTypes[role]);
  return {
    ...described(instance),
    action: revertNeeded ? `revert to ${ctx.originalTypes[role]}` : 'nothing to revert',
    revertNeeded,
  };
}

/**
 * Both members are resized: free the lease's member, then send traffic where it should end (the primary when
 * failing back, else it stays). Refused with UnhealthyTargetError when that member is not healthy; the
 * conclusion then keeps traffic on a healthy member.
 */
async function failBack(deps: ResizeDeps, ctx: ResizeContext): Promise<Record<string, never>> {
  const pair = configuredPair(deps, ctx);
  await moveLease(deps, ctx, undefined);
  const target = finalTarget(ctx);
  const view = await viewPair(deps, pair);
  if (carrierOf(view.routes) !== target) await failOverTo(deps, ctx, target);
  return {};
}

const caughtFailure = (caught: Caught): StepFailure | undefined =>
  isCaught(caught)
    ? { Error: caught.Error, ...(caught.Cause !== undefined ? { Cause: caught.Cause } : {}) }
    : undefined;

/**
 * The end of every path: make sure traffic is on a healthy member (moving it through the controller's failover
 * when the member carrying it is not healthy and the other is), release the lease, record history, and say
 * how it ended and what state the pair is in. The status is read from the pair, not assumed from the path.
 */
async function conclude(deps: ResizeDeps, event: Extract<StepEvent, { step: 'conclude' }>): Promise<Outcome> {
  const requested = event.request as { pair?: unknown; instanceType?: unknown } | null | undefined;
  const ctx = isContext(event.ctx) ? event.ctx : undefined;
  const pairName = ctx?.pair ?? (typeof requested?.pair === 'string' ? requested.pair : 'unknown');
  const instanceType =
    ctx?.instanceType ?? (typeof requested?.instanceType === 'string' ? requested.instanceType : undefined);
  const error = caughtFailure(event.error);
  const revertError = caughtFailure(event.revertError);
  const pair = pairNamed(deps, pairName);
  const actions: string[] = [];
  const store = storeOf(deps);

  if (ctx !== undefined && pair !== undefined) {
    const view = await viewPair(deps, pair);
    const carrying = carrierOf(view.routes);
    const healthy = (role: Role) => view.verdicts[role].health === 'healthy';
    const to =
      carrying !== undefined && !healthy(carrying)
        ? otherRole(carrying)
        : carrying === undefined
          ? ROLES.find(healthy)
          : undefined;
    if (to !== undefined && healthy(to)) {
      try {
        await moveLease(deps, ctx, undefined);
        await failOverTo(deps, ctx, to);
        actions.push(`moved traffic to ${to}, the healthy member`);
      } catch (moveError) {
        actions.push(`could not move traffic to ${to}: ${(moveError as Error).message}`);
      }
    }
  }
  if (pair !== undefined) {
    try {
      const before = (await store.loadPair(pair.name)).memory.lease;
      await store.releaseLease(pair.name, event.execution);
      if (before?.owner === event.execution) actions.push('lease released');
    } catch (releaseError) {
      if (!(releaseError instanceof LeaseHeldError)) throw releaseError;
      // A refused resize finds another execution's lease: not ours to release. A resize whose lease expired
      // and was taken over says so: the controller may have acted meanwhile.
      if (ctx !== undefined) actions.push(`the lease was no longer ours: ${releaseError.message}`);
    }
  }

  const members = pair === undefined ? undefined : await memberStates(deps, pair);
  const outcome = concludeResize({
    pair: pairName,
    ...(instanceType ? { instanceType } : {}),
    ...(ctx ? { ctx } : {}),
    ...(error ? { error } : {}),
    ...(revertError ? { revertError } : {}),
    ...(members
      ? { members: members.states, ...(members.carrying ? { carrying: members.carrying } : {}) }
      : {}),
    actions,
  });
  if (pair !== undefined) {
    await store.appendHistory(pair.name, deps.clock.now(), {
      event: 'resize-finished',
      owner: event.execution,
      status: outcome.status,
      instanceType,
      error: error?.Error,
      message: outcome.message,
    });
  }
  deps.log.info({ pair: pairName, owner: event.execution, outcome }, 'resize concluded');
  return outcome;
}

/** Each member's state, type and health, and where traffic is, as the conclusion reports them. */
async function memberStates(
  deps: ResizeDeps,
  pair: PairConfig,
): Promise<{ states: Record<Role, MemberState>; carrying?: Role }> {
  const [view, primary, standby] = await Promise.all([
    viewPair(deps, pair),
    describeMember(deps, pair.primary.instanceId),
    describeMember(deps, pair.standby.instanceId),
  ]);
  const described = { primary, standby };
  const states = Object.fromEntries(
    ROLES.map((role): [Role, MemberState] => {
      const instance = described[role];
      return [
        role,
        {
          instanceId: pair[role].instanceId,
          ...(instance?.state ? { state: instance.state } : {}),
          ...(instance?.instanceType ? { instanceType: instance.instanceType } : {}),
          health: view.verdicts[role].health,
        },
      ];
    }),
  ) as Record<Role, MemberState>;
  const carrying = carrierOf(view.routes);
  return { states, ...(carrying ? { carrying } : {}) };
}
