import { describe, expect, it } from 'vitest';
import type { DecideInput } from '../../shared/decide/decide.ts';
import { evaluateMember } from '../../shared/decide/health.ts';
import type { Verdict } from '../../shared/domain/plan.ts';
import type { InstanceObservation, Role, Signal } from '../../shared/domain/types.ts';
import {
  DESTINATIONS,
  ENI,
  INSTANCE,
  NOW,
  RTB_A,
  routeOn,
  withInstance,
  withObservation,
  withProbe,
  withRoute,
  withTunnel,
  world,
} from './builders.ts';

const verdictOf = (input: DecideInput, role: Role = 'primary'): Verdict =>
  evaluateMember({ pair: input.pair, role, observation: input.observation, now: input.now });

const DAY = 86_400_000;

describe('instance signal (EC2 instance status and route state)', () => {
  const rows: [string, Partial<InstanceObservation>, Partial<Signal>][] = [
    ['a running instance with every check ok is healthy', {}, { health: 'healthy' }],
    ['an instance EC2 does not know is a hard loss', { found: false }, { health: 'unhealthy', hard: true }],
    ['a stopped instance is a hard loss', { state: 'stopped' }, { health: 'unhealthy', hard: true }],
    ['a stopping instance is a hard loss', { state: 'stopping' }, { health: 'unhealthy', hard: true }],
    ['a pending instance is a hard loss', { state: 'pending' }, { health: 'unhealthy', hard: true }],
    ['a terminated instance is a hard loss', { state: 'terminated' }, { health: 'unhealthy', hard: true }],
    [
      'an impaired system status check is a hard loss',
      { systemStatus: 'impaired' },
      { health: 'unhealthy', hard: true },
    ],
    [
      'an impaired instance status check is a hard loss',
      { instanceStatus: 'impaired' },
      { health: 'unhealthy', hard: true },
    ],
    ['impaired attached EBS is a hard loss', { ebsStatus: 'impaired' }, { health: 'unhealthy', hard: true }],
    [
      'status checks still initializing are unknown',
      { instanceStatus: 'initializing' },
      { health: 'unknown' },
    ],
    [
      'a single insufficient-data reading is unknown, not unhealthy',
      { systemStatus: 'insufficient-data' },
      { health: 'unknown' },
    ],
    ['status checks that were not reported are unknown', { systemStatus: undefined }, { health: 'unknown' }],
    ['an instance whose state was not read is unknown', { state: undefined }, { health: 'unknown' }],
    [
      'EBS status not-applicable (no EBS volumes) is fine',
      { ebsStatus: 'not-applicable' },
      { health: 'healthy' },
    ],
    [
      'a stopped instance is a hard loss even while its checks read insufficient-data',
      { state: 'stopped', systemStatus: 'insufficient-data', instanceStatus: 'insufficient-data' },
      { health: 'unhealthy', hard: true },
    ],
  ];

  it.each(rows)('%s', (_name, patch, expected) => {
    const signal = verdictOf(withInstance(world(), 'primary', patch)).signals.instance;
    expect(signal).toMatchObject(expected);
    if (expected.hard === undefined) expect(signal?.hard).toBeFalsy();
  });

  it.each(['instance-stop', 'instance-retirement', 'system-maintenance', 'system-reboot', 'instance-reboot'])(
    'a pending %s event makes the member unhealthy, flagged as scheduled rather than hard',
    (code) => {
      const input = withInstance(world(), 'primary', {
        scheduledEvents: [
          { code, notBefore: NOW + 3 * DAY, description: 'The instance is running on degraded hardware' },
        ],
      });
      const signal = verdictOf(input).signals.instance;
      expect(signal).toMatchObject({ health: 'unhealthy', scheduled: true });
      expect(signal?.hard).toBeFalsy();
      expect(signal?.reason).toContain(code);
      expect(signal?.reason).toContain('2026-12-03T12:00:00.000Z');
    },
  );

  it('ignores a scheduled event that has completed (listed for a week as "[Completed] …")', () => {
    const input = withInstance(world(), 'primary', {
      scheduledEvents: [
        { code: 'system-reboot', notBefore: NOW - DAY, description: '[Completed] Scheduled reboot' },
      ],
    });
    expect(verdictOf(input).signals.instance).toMatchObject({ health: 'healthy' });
  });

  it('says an event whose start has passed is due, not scheduled', () => {
    const input = withInstance(world(), 'primary', {
      scheduledEvents: [{ code: 'instance-retirement', notBefore: NOW - DAY }],
    });
    expect(verdictOf(input).signals.instance?.reason).toContain('due since');
  });

  it('a blackholed route to the member ENI is a hard loss of that member only', () => {
    const input = withRoute(world(), RTB_A, DESTINATIONS[0], routeOn('primary', 'blackhole'));
    const primary = verdictOf(input, 'primary');
    expect(primary.signals.instance).toMatchObject({ health: 'unhealthy', hard: true });
    expect(primary.signals.instance?.reason).toContain(
      `${RTB_A} ${DESTINATIONS[0]} to ${ENI.primary} is blackhole`,
    );
    expect(verdictOf(input, 'standby').health).toBe('healthy');
  });
});

describe('daemon signal (SSM probe)', () => {
  it.each([
    ['succeeded', 'healthy'],
    ['failed', 'unhealthy'],
    ['unknown', 'unknown'],
  ] as const)('a probe that %s reads %s', (outcome, health) => {
    const signal = verdictOf(withProbe(world(), 'primary', outcome)).signals.daemon;
    expect(signal?.health).toBe(health);
    expect(signal?.hard).toBeFalsy();
  });

  it('a configured probe with no result at all is unknown', () => {
    expect(verdictOf(withObservation(world(), { probes: undefined })).signals.daemon?.health).toBe('unknown');
  });

  it('is not read when the pair has no daemon probe', () => {
    expect(verdictOf(world({ pair: { probe: { kind: 'none' } } })).signals.daemon).toBeUndefined();
  });

  it('is moot for a member that is not running: only the instance signal speaks', () => {
    const input = withProbe(withInstance(world(), 'primary', { state: 'stopped' }), 'primary', 'unknown');
    const verdict = verdictOf(input);
    expect(verdict.signals.daemon).toBeUndefined();
    expect(verdict.signals.tunnel).toBeUndefined();
    expect(verdict).toMatchObject({ health: 'unhealthy', hard: true });
  });
});

describe('tunnel signal (CloudWatch metric)', () => {
  const rows: [string, readonly number[] | undefined, Signal['health']][] = [
    ['an unreadable metric is unknown', undefined, 'unknown'],
    ['no datapoints yet is unknown', [], 'unknown'],
    ['fewer datapoints than datapointsToBreach is unknown', [0], 'unknown'],
    ['the newest datapointsToBreach values all below threshold is unhealthy', [0, 0], 'unhealthy'],
    ['a tunnel that just came back up is healthy', [1, 0, 0], 'healthy'],
    ['a single breaching datapoint is not enough', [0, 1, 1], 'healthy'],
    ['older breaching datapoints do not count', [1, 1, 0, 0], 'healthy'],
    ['a fractional value (one of two tunnels down) breaches a threshold of 1', [0.5, 0.5], 'unhealthy'],
  ];

  it.each(rows)('%s', (_name, values, health) => {
    expect(verdictOf(withTunnel(world(), 'primary', values)).signals.tunnel?.health).toBe(health);
  });

  it('uses greaterThan when configured (for example a latency metric)', () => {
    const input = world({
      pair: { tunnel: { threshold: 200, comparison: 'greaterThan', datapointsToBreach: 3 } },
    });
    expect(verdictOf(withTunnel(input, 'primary', [450, 300, 250])).signals.tunnel?.health).toBe('unhealthy');
    expect(verdictOf(withTunnel(input, 'primary', [450, 300, 150])).signals.tunnel?.health).toBe('healthy');
  });

  it('is not read when the pair has no tunnel metric', () => {
    expect(verdictOf(world({ pair: { tunnel: undefined } })).signals.tunnel).toBeUndefined();
  });
});

describe('verdict', () => {
  it('is healthy only when every configured signal is healthy, and lists them all', () => {
    const verdict = verdictOf(world());
    expect(verdict).toMatchObject({ health: 'healthy', hard: false });
    expect(Object.keys(verdict.signals)).toEqual(['instance', 'daemon', 'tunnel']);
    expect(verdict.reason).toMatch(/^instance healthy \(.+\); daemon healthy \(.+\); tunnel healthy \(.+\)$/);
    expect(verdict.reason).toContain(INSTANCE.primary);
  });

  it('is unhealthy when any signal is unhealthy, even if another is unknown', () => {
    const input = withTunnel(withProbe(world(), 'standby', 'failed'), 'standby', undefined);
    expect(verdictOf(input, 'standby')).toMatchObject({ health: 'unhealthy', hard: false });
  });

  it('is unknown when no signal is unhealthy and one is unknown', () => {
    expect(verdictOf(withProbe(world(), 'primary', 'unknown')).health).toBe('unknown');
  });

  it('is hard when the instance signal is a hard loss', () => {
    expect(verdictOf(withInstance(world(), 'standby', { found: false }), 'standby')).toMatchObject({
      health: 'unhealthy',
      hard: true,
    });
  });
});
