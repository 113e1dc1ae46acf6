import type { InstanceDescription, InstanceTypeDescription } from '../aws/ec2-resize.ts';
import type { PairConfig } from '../config/schema.ts';
import { type RouteStatus, routesConverged } from '../decide/routes.ts';
import type { Verdict } from '../domain/plan.ts';
import type { Lease, Role } from '../domain/types.ts';
import { otherRole, ROLES } from '../domain/types.ts';
import { leaseSecondsFor } from './policy.ts';
import type { ResizeContext, ResizeRequest } from './types.ts';

/**
 * The resize preflight as a pure function of what was read: every check the issue lists, each reported with a
 * reason, and nothing stopped unless all pass. The shell (step-preflight.ts) gathers the facts; the CLI's --dry-run
 * prints the same checks.
 */

/** Everything the preflight looks at, read once. */
export interface PreflightFacts {
  readonly pair: PairConfig;
  readonly request: ResizeRequest;
  /** DescribeInstances of each member; absent when EC2 does not know it */
  readonly instances: Readonly<Partial<Record<Role, InstanceDescription>>>;
  /** DescribeInstanceTypes of the requested type; absent when EC2 does not know it */
  readonly targetType?: InstanceTypeDescription;
  /** DescribeInstanceTypes of the members' current types (for NVMe), by type name */
  readonly currentTypes: ReadonlyMap<string, InstanceTypeDescription>;
  /** the members' availability zones in which the requested type is offered */
  readonly offeredIn: ReadonlySet<string>;
  /** each member's verdict by the controller's own signals */
  readonly verdicts: Readonly<Record<Role, Verdict>>;
  /** the managed routes, classified; undefined when the tables could not be read */
  readonly routes: readonly RouteStatus[] | undefined;
  /** the pair's lease as stored, if any */
  readonly lease?: Lease;
  /** the configuration's dryRun for this pair: the controller would not move traffic, so no resize can */
  readonly dryRun: boolean;
  /** who is asking (the execution name); a lease held by this owner is not a problem */
  readonly owner?: string;
  /** epoch ms */
  readonly now: number;
}

/** One preflight check and its outcome. */
export interface PreflightCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** The preflight's verdict: the checks in order; `active` is the member carrying traffic when known. */
export interface PreflightResult {
  readonly ok: boolean;
  readonly checks: readonly PreflightCheck[];
  readonly active?: Role;
}

const check = (name: string, problems: readonly string[], okDetail: string): PreflightCheck =>
  problems.length === 0
    ? { name, ok: true, detail: okDetail }
    : { name, ok: false, detail: problems.join('; ') };

const perMember = (
  facts: PreflightFacts,
  test: (role: Role, instance: InstanceDescription) => string | undefined,
) =>
  ROLES.flatMap((role) => {
    const instance = facts.instances[role];
    if (instance === undefined) return [];
    const problem = test(role, instance);
    return problem === undefined ? [] : [`${role} ${instance.instanceId}: ${problem}`];
  });

/** Evaluate every preflight check. Pure: `now` and everything read come in as arguments. */
export function evaluatePreflight(facts: PreflightFacts): PreflightResult {
  const { pair, request, targetType } = facts;
  const type = request.instanceType;
  const checks: PreflightCheck[] = [];

  const missing = ROLES.filter((role) => facts.instances[role] === undefined).map(
    (role) => `${role} ${pair[role].instanceId} not found`,
  );
  checks.push(check('members exist', missing, `${pair.primary.instanceId}, ${pair.standby.instanceId}`));

  checks.push(
    check(
      'instance type exists',
      targetType === undefined ? [`EC2 does not know instance type ${type}`] : [],
      `${type}: ${targetType?.architectures.join('/') ?? ''}, ENA ${targetType?.enaSupport ?? ''}, NVMe ${targetType?.nvmeSupport ?? ''}`,
    ),
  );

  const atTarget = ROLES.filter((role) => facts.instances[role]?.instanceType === type);
  checks.push(
    check(
      'something to resize',
      atTarget.length === ROLES.length ? [`both members already run ${type}`] : [],
      atTarget.length === 0
        ? `both members change to ${type}`
        : `${atTarget.join(', ')} already ${type} (skipped)`,
    ),
  );

  // An offering means the type exists in the AZ, not that there is capacity (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html).
  checks.push(
    check(
      'offered in each member AZ',
      perMember(facts, (_role, instance) =>
        instance.availabilityZone === undefined
          ? 'availability zone unknown'
          : facts.offeredIn.has(instance.availabilityZone)
            ? undefined
            : `${type} is not offered in ${instance.availabilityZone}`,
      ),
      [...new Set(ROLES.flatMap((r) => facts.instances[r]?.availabilityZone ?? []))].join(', '),
    ),
  );

  if (targetType !== undefined) {
    checks.push(
      check(
        'same architecture',
        perMember(facts, (_role, instance) =>
          instance.architecture === undefined || targetType.architectures.includes(instance.architecture)
            ? undefined
            : `${instance.architecture} cannot move to ${type} (${targetType.architectures.join('/')})`,
        ),
        targetType.architectures.join('/'),
      ),
    );
    checks.push(
      check('ENA, NVMe and boot mode compatible', compatibilityProblems(facts, targetType), 'compatible'),
    );
  }

  // "You can't change the instance type or size of an instance when hibernation is enabled" (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html).
  checks.push(
    check(
      'hibernation not configured',
      perMember(facts, (_role, instance) =>
        instance.hibernationConfigured ? 'hibernation is configured' : undefined,
      ),
      'neither member configures hibernation',
    ),
  );

  checks.push(
    check(
      'both members healthy',
      ROLES.flatMap((role) =>
        facts.verdicts[role].health === 'healthy'
          ? []
          : [`${role} is ${facts.verdicts[role].health}: ${facts.verdicts[role].reason}`],
      ),
      'both healthy by the controller signals',
    ),
  );

  const active = carrier(facts.routes);
  checks.push(
    check(
      'routes converged',
      active.problem === undefined ? [] : [active.problem],
      active.role === undefined ? '' : `every managed route on ${active.role}`,
    ),
  );

  checks.push(
    check(
      'controller acts',
      facts.dryRun
        ? [
            'the pair is in dry-run mode: the controller would not move its traffic, so no member can be freed',
          ]
        : [],
      'not in dry-run mode',
    ),
  );

  const lease = facts.lease;
  const leaseHeld = lease !== undefined && lease.until >= facts.now && lease.owner !== facts.owner;
  checks.push(
    check(
      'lease free',
      leaseHeld ? [`held by ${lease.owner} until ${new Date(lease.until).toISOString()}`] : [],
      'no other resize holds the pair',
    ),
  );

  return { ok: checks.every((c) => c.ok), checks, ...(active.role ? { active: active.role } : {}) };
}

/** ENA, NVMe and boot mode (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html). */
function compatibilityProblems(facts: PreflightFacts, target: InstanceTypeDescription): string[] {
  return perMember(facts, (_role, instance) => {
    const problems: string[] = [];
    if (target.enaSupport === 'required' && instance.enaSupport !== true) {
      problems.push(`${target.instanceType} requires ENA, which is not enabled on the instance`);
    }
    const current =
      instance.instanceType === undefined ? undefined : facts.currentTypes.get(instance.instanceType);
    if (target.nvmeSupport === 'required' && current !== undefined && current.nvmeSupport === 'unsupported') {
      problems.push(
        `${target.instanceType} exposes EBS as NVMe and ${current.instanceType} does not: the AMI needs NVMe drivers and fstab by UUID; resize by hand`,
      );
    }
    const bootMode = instance.bootMode;
    if (bootMode === 'legacy-bios' && !target.bootModes.includes('legacy-bios')) {
      problems.push(
        `boots legacy-bios; ${target.instanceType} supports ${target.bootModes.join('/') || 'no listed mode'}`,
      );
    }
    if (bootMode === 'uefi' && !target.bootModes.includes('uefi')) {
      problems.push(
        `boots uefi; ${target.instanceType} supports ${target.bootModes.join('/') || 'no listed mode'}`,
      );
    }
    return problems.length === 0 ? undefined : problems.join('; ');
  });
}

/** The member every managed route points at, or why there is none. */
function carrier(routes: readonly RouteStatus[] | undefined): { role?: Role; problem?: string } {
  if (routes === undefined) return { problem: 'the route tables could not be read' };
  const managed = routes.filter((r) => r.target !== 'foreign');
  if (managed.length === 0) return { problem: 'no managed route points at the pair' };
  const role = ROLES.find((r) => routesConverged(routes, r));
  if (role !== undefined) return { role };
  const count = (target: RouteStatus['target']) => routes.filter((r) => r.target === target).length;
  const blackholed = routes.filter((r) => r.blackhole).length;
  return {
    problem:
      `routes are split (${count('primary')} on primary, ${count('standby')} on standby, ${count('missing')} missing` +
      `${blackholed > 0 ? `, ${blackholed} blackhole` : ''}); let the controller converge them first`,
  };
}

/**
 * The context every later step gets: the idle member goes first, the one carrying traffic second. Call only
 * when the preflight passed (`result.active` is set).
 */
export function resizeContext(facts: PreflightFacts, result: PreflightResult, owner: string): ResizeContext {
  const active = result.active;
  if (!result.ok || active === undefined) throw new Error('resizeContext needs a passed preflight');
  const first = otherRole(active);
  const typeOf = (role: Role): string => facts.instances[role]?.instanceType ?? 'unknown';
  return {
    pair: facts.pair.name,
    owner,
    instanceType: facts.request.instanceType,
    failback: facts.request.failback,
    soakSeconds: facts.request.soak,
    leaseSeconds: leaseSecondsFor(facts.request.soak),
    activeAtStart: active,
    first,
    second: active,
    originalTypes: { primary: typeOf('primary'), standby: typeOf('standby') },
    skip: {
      first: typeOf(first) === facts.request.instanceType,
      second: typeOf(active) === facts.request.instanceType,
    },
  };
}

/** Where traffic should end: the primary when failing back, else where it is (the resized first member). */
export const finalTarget = (ctx: ResizeContext): Role => (ctx.failback ? 'primary' : ctx.first);
