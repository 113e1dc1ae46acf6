import { describe, expect, it } from 'vitest';
import type { InstanceDescription, InstanceTypeDescription } from '../../shared/aws/ec2-resize.ts';
import type { RouteStatus } from '../../shared/decide/routes.ts';
import type { Verdict } from '../../shared/domain/plan.ts';
import type { Role } from '../../shared/domain/types.ts';
import { describeResizePlan } from '../../shared/resize/plan.ts';
import { LEASE_BASE_SECONDS } from '../../shared/resize/policy.ts';
import {
  evaluatePreflight,
  finalTarget,
  type PreflightFacts,
  resizeContext,
} from '../../shared/resize/preflight.ts';
import { parseResizeRequest } from '../../shared/resize/types.ts';
import { DESTINATIONS, INSTANCE, NOW, pairConfig, RTB_A, RTB_B } from '../decide/builders.ts';

// Prepare: a healthy pair, traffic on the primary, both c6in.large in two AZs of eu-west-1, resizing to c6in.xlarge.

const instance = (role: Role, overrides: Partial<InstanceDescription> = {}): InstanceDescription => ({
  instanceId: INSTANCE[role],
  state: 'running',
  instanceType: 'c6in.large',
  availabilityZone: role === 'primary' ? 'eu-west-1a' : 'eu-west-1b',
  architecture: 'x86_64',
  enaSupport: true,
  bootMode: 'legacy-bios',
  hibernationConfigured: false,
  ...overrides,
});

const type = (name: string, overrides: Partial<InstanceTypeDescription> = {}): InstanceTypeDescription => ({
  instanceType: name,
  architectures: ['x86_64'],
  enaSupport: 'required',
  nvmeSupport: 'required',
  bootModes: ['legacy-bios', 'uefi'],
  hypervisor: 'nitro',
  maxNetworkInterfaces: 4,
  ...overrides,
});

const healthy: Verdict = { health: 'healthy', hard: false, signals: {}, reason: 'all signals healthy' };

const routesOn = (role: Role): RouteStatus[] =>
  [RTB_A, RTB_B].flatMap((routeTableId) =>
    DESTINATIONS.map((destination) => ({
      routeTableId,
      destination,
      target: role,
      onEni: true,
      blackhole: false,
      via: `eni-${role}`,
    })),
  );

function facts(overrides: Partial<PreflightFacts> = {}): PreflightFacts {
  return {
    pair: pairConfig(),
    request: parseResizeRequest({ pair: 'branch-a', instanceType: 'c6in.xlarge' }),
    instances: { primary: instance('primary'), standby: instance('standby') },
    targetType: type('c6in.xlarge'),
    currentTypes: new Map([['c6in.large', type('c6in.large')]]),
    offeredIn: new Set(['eu-west-1a', 'eu-west-1b']),
    verdicts: { primary: healthy, standby: healthy },
    routes: routesOn('primary'),
    dryRun: false,
    now: NOW,
    ...overrides,
  };
}

const failed = (overrides: Partial<PreflightFacts>) =>
  evaluatePreflight(facts(overrides))
    .checks.filter((c) => !c.ok)
    .map((c) => c.name);

describe('resize preflight', () => {
  it('passes a healthy, converged pair and names the member carrying traffic', () => {
    const result = evaluatePreflight(facts());

    expect(result.ok).toBe(true);
    expect(result.active).toBe('primary');
    expect(result.checks.every((c) => c.ok)).toBe(true);
  });

  it('refuses a type EC2 does not know', () => {
    expect(failed({ targetType: undefined })).toEqual(['instance type exists']);
  });

  it('refuses a type not offered in one of the members availability zones', () => {
    expect(failed({ offeredIn: new Set(['eu-west-1a']) })).toEqual(['offered in each member AZ']);
  });

  it('refuses to cross architectures (x86_64 to arm64)', () => {
    expect(failed({ targetType: type('c6gn.xlarge', { architectures: ['arm64'] }) })).toEqual([
      'same architecture',
    ]);
  });

  it('refuses a type that requires ENA when the instance does not have it enabled', () => {
    const instances = { primary: instance('primary', { enaSupport: false }), standby: instance('standby') };
    expect(failed({ instances })).toEqual(['ENA, NVMe and boot mode compatible']);
  });

  it('refuses a move from a type without NVMe to one that exposes EBS as NVMe', () => {
    expect(
      failed({ currentTypes: new Map([['c6in.large', type('c6in.large', { nvmeSupport: 'unsupported' })]]) }),
    ).toEqual(['ENA, NVMe and boot mode compatible']);
  });

  it('refuses a type that cannot boot the way the instance boots', () => {
    expect(failed({ targetType: type('c6in.xlarge', { bootModes: ['uefi'] }) })).toEqual([
      'ENA, NVMe and boot mode compatible',
    ]);
  });

  it('refuses a member with hibernation configured', () => {
    const instances = {
      primary: instance('primary'),
      standby: instance('standby', { hibernationConfigured: true }),
    };
    expect(failed({ instances })).toEqual(['hibernation not configured']);
  });

  it('refuses unless both members are healthy by the controller signals', () => {
    const unknown: Verdict = { health: 'unknown', hard: false, signals: {}, reason: 'probe unanswered' };
    expect(failed({ verdicts: { primary: healthy, standby: unknown } })).toEqual(['both members healthy']);
  });

  it('refuses while the routes are split between the members or cannot be read', () => {
    const split = routesOn('primary').map((r, i) => (i === 0 ? { ...r, target: 'standby' as const } : r));
    expect(failed({ routes: split })).toEqual(['routes converged']);
    expect(failed({ routes: undefined })).toEqual(['routes converged']);
  });

  it('refuses while another owner holds a live lease, but not for an expired lease or its own', () => {
    const lease = { owner: 'resize-branch-a-1', until: NOW + 60_000, member: 'standby' as const };
    expect(failed({ lease })).toEqual(['lease free']);
    expect(failed({ lease: { ...lease, until: NOW - 1 } })).toEqual([]);
    expect(failed({ lease, owner: 'resize-branch-a-1' })).toEqual([]);
  });

  it('refuses a pair in dry-run mode, where the controller would not move its traffic', () => {
    expect(failed({ dryRun: true })).toEqual(['controller acts']);
  });

  it('refuses when both members already run the requested type', () => {
    const instances = {
      primary: instance('primary', { instanceType: 'c6in.xlarge' }),
      standby: instance('standby', { instanceType: 'c6in.xlarge' }),
    };
    expect(failed({ instances })).toEqual(['something to resize']);
  });

  it('lists every failed check at once', () => {
    expect(failed({ offeredIn: new Set(), dryRun: true, routes: undefined })).toEqual([
      'offered in each member AZ',
      'routes converged',
      'controller acts',
    ]);
  });
});

describe('resize context', () => {
  it('resizes the idle member first and the member carrying traffic second', () => {
    const f = facts({ routes: routesOn('standby') });
    const ctx = resizeContext(f, evaluatePreflight(f), 'resize-branch-a-20260101T000000Z');

    expect(ctx).toMatchObject({ activeAtStart: 'standby', first: 'primary', second: 'standby' });
    expect(ctx.originalTypes).toEqual({ primary: 'c6in.large', standby: 'c6in.large' });
  });

  it('skips a member that already runs the requested type (a resize finished by hand)', () => {
    const f = facts({
      instances: {
        primary: instance('primary'),
        standby: instance('standby', { instanceType: 'c6in.xlarge' }),
      },
    });
    const ctx = resizeContext(f, evaluatePreflight(f), 'owner');
    expect(ctx.skip).toEqual({ first: true, second: false });
  });

  it('holds the lease long enough for one member cycle plus the soak', () => {
    const f = facts({
      request: parseResizeRequest({ pair: 'branch-a', instanceType: 'c6in.xlarge', soak: '10m' }),
    });
    expect(resizeContext(f, evaluatePreflight(f), 'owner').leaseSeconds).toBe(LEASE_BASE_SECONDS + 600);
  });

  it('ends traffic on the primary when failing back, else on the member resized first', () => {
    const f = facts();
    const ctx = resizeContext(f, evaluatePreflight(f), 'owner');
    expect(finalTarget(ctx)).toBe('primary');
    expect(finalTarget({ ...ctx, failback: false })).toBe('standby');
  });

  it('cannot be built from a failed preflight', () => {
    const f = facts({ dryRun: true });
    expect(() => resizeContext(f, evaluatePreflight(f), 'owner')).toThrow(Error);
  });
});

describe('resize plan', () => {
  it('lists the stages in order with the members and types', () => {
    const f = facts();
    const plan = describeResizePlan(f.pair, resizeContext(f, evaluatePreflight(f), 'owner'));

    expect(plan.map((s) => s.title)).toEqual([
      'take the lease',
      'resize standby',
      'fail over to standby',
      'resize primary',
      'fail back to primary',
      'finish',
    ]);
    expect(plan[1]?.detail).toContain('c6in.large -> c6in.xlarge');
  });
});
