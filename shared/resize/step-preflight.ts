import { describeInstanceTypes, instanceTypeOfferedIn } from '../aws/ec2-resize.ts';
import type { PairConfig } from '../config/schema.ts';
import { LeaseHeldError } from '../errors.ts';
import { PreflightFailedError } from './errors.ts';
import { evaluatePreflight, type PreflightFacts, type PreflightResult, resizeContext } from './preflight.ts';
import {
  describeLease,
  describeMember,
  describeType,
  pairNamed,
  type ResizeDeps,
  storeOf,
  viewPair,
} from './step-reads.ts';
import { parseResizeRequest, type ResizeContext, type ResizeRequest } from './types.ts';

/**
 * The preflight step: read what the checks of ./preflight.ts need, refuse a second resize of the pair, and take
 * the lease once every check passes. The CLI's --dry-run makes the same reads and checks without the lease.
 */

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

/**
 * Preflight: refuse a second resize of the pair with LeaseHeldError first, then run every check; only when all
 * pass take the lease (owner: the execution; member: the idle one, resized first). Nothing is stopped here.
 */
export async function preflight(deps: ResizeDeps, input: unknown, owner: string): Promise<ResizeContext> {
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
