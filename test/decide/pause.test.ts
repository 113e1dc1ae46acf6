import { describe, expect, it } from 'vitest';
import { decide } from '../../shared/decide/decide.ts';
import type { Pause } from '../../shared/domain/types.ts';
import {
  atTime,
  DESTINATIONS,
  ENI,
  MINUTE,
  missingRoute,
  NOW,
  RTB_A,
  streaks,
  withInstance,
  withMemory,
  withProbe,
  withRoute,
  world,
} from './builders.ts';

/** The decision rules under an operator's pause: every automatic move held, operator commands still obeyed. */

const PAUSE: Pause = { until: NOW + 60 * MINUTE, reason: 'firmware upgrade', by: 'alice', at: NOW - MINUTE };
const paused = <T extends Parameters<typeof withMemory>[0]>(input: T) => withMemory(input, { pause: PAUSE });
const kinds = (decision: ReturnType<typeof decide>) => decision.alarms.map((a) => a.kind);

describe('a paused pair', () => {
  it('holds a failover off a stopped primary: traffic-blackholed says what it would have done, paused is raised', () => {
    const input = withInstance(world(), 'primary', { state: 'stopped' });
    expect(decide(input).plan).toMatchObject({ kind: 'failover', trigger: 'hard-loss' });

    const decision = decide(paused(input));

    expect(decision.plan.kind).toBe('alarm');
    expect(decision.plan.reasons.at(-1)).toBe(
      `would fail over to standby (hard-loss), but the pair is paused by alice until ${new Date(PAUSE.until).toISOString()}: firmware upgrade`,
    );
    expect(kinds(decision)).toEqual(['traffic-blackholed', 'paused']);
    expect(decision.memory).toMatchObject({ active: 'primary', pause: PAUSE });
    expect(decision.memory.lastFailoverAt).toBeUndefined();
  });

  it('holds a failover before a scheduled retirement', () => {
    const input = withInstance(world(), 'primary', {
      scheduledEvents: [{ code: 'instance-stop', notBefore: NOW + MINUTE }],
    });
    expect(decide(input).plan.kind).toBe('failover');
    expect(decide(paused(input)).plan.kind).toBe('alarm');
  });

  it('holds a soft failover but keeps counting, so it moves at the first evaluation after the pause', () => {
    const input = withMemory(withProbe(world(), 'primary', 'failed'), {
      unhealthyStreak: streaks({ primary: { daemon: 1 } }),
    });

    const held = decide(paused(input));
    expect(held.plan.kind).toBe('alarm');
    expect(held.memory.unhealthyStreak.primary.daemon).toBe(2);

    const after = decide(atTime({ ...input, memory: held.memory }, PAUSE.until));
    expect(after.plan).toMatchObject({ kind: 'failover', trigger: 'soft-failure', to: 'standby' });
    expect(after.memory.pause).toBeUndefined();
    expect(kinds(after)).not.toContain('paused');
  });

  it('holds an automatic failback', () => {
    const input = world({
      active: 'standby',
      pair: { failback: 'automatic', failbackAfter: 3 },
      memory: { healthyStreak: { primary: 2, standby: 0 }, lastFailoverAt: NOW - 30 * MINUTE },
    });
    expect(decide(input).plan.kind).toBe('failback');

    const decision = decide(paused(input));
    expect(decision.plan.reasons.at(-1)).toMatch(/^would fail back to primary \(automatic-failback\), but/);
    expect(decision.memory.active).toBe('standby');
  });

  it('holds the repair of a deleted route', () => {
    const input = withRoute(world(), RTB_A, DESTINATIONS[0], missingRoute);
    expect(decide(input).plan.kind).toBe('repair-routes');

    const decision = decide(paused(input));
    expect(decision.plan.kind).toBe('alarm');
    expect(decision.plan.reasons.at(-1)).toMatch(
      /^would repair 1 route onto primary, but the pair is paused/,
    );
  });

  it('holds in a dry run too, with no would-be move', () => {
    const input = { ...withInstance(world(), 'primary', { state: 'stopped' }), dryRun: true };
    const decision = decide(paused(input));
    expect(decision.plan.kind).toBe('alarm');
    expect(kinds(decision)).toContain('paused');
  });

  it('obeys an operator failover, forced past an unhealthy target, and stays paused', () => {
    const input = paused(withProbe(world(), 'standby', 'failed'));

    const refused = decide({ ...input, command: { action: 'failover', to: 'standby', force: false } });
    expect(refused.refusal).toMatch(/^refused failover of branch-a to standby/);

    const forced = decide({ ...input, command: { action: 'failover', to: 'standby', force: true } });
    expect(forced.plan).toMatchObject({
      kind: 'failover',
      trigger: 'manual',
      to: 'standby',
      targetEni: ENI.standby,
    });
    expect(forced.memory).toMatchObject({ active: 'standby', pause: PAUSE });
    expect(kinds(forced)).toContain('paused');
  });

  it('holds nothing once the pause has run out, and the next write drops it', () => {
    const input = withMemory(withInstance(world(), 'primary', { state: 'stopped' }), {
      pause: { ...PAUSE, until: NOW },
    });
    const decision = decide(input);
    expect(decision.plan.kind).toBe('failover');
    expect(decision.memory.pause).toBeUndefined();
    expect(kinds(decision)).not.toContain('paused');
  });
});

describe('pause and resume commands', () => {
  it('a pause sets the hold from now, replacing one in force, and the same evaluation holds', () => {
    const input = withInstance(paused(world()), 'primary', { state: 'stopped' });
    const decision = decide({
      ...input,
      command: { action: 'pause', seconds: 7200, reason: 'longer', by: 'bob' },
    });
    expect(decision.memory.pause).toEqual({ until: NOW + 7_200_000, reason: 'longer', by: 'bob', at: NOW });
    expect(decision.plan.kind).toBe('alarm');
    expect(decision.plan.reasons[0]).toBe(
      `operator command: pause for 120m by bob: longer (replaces: paused by alice until ${new Date(PAUSE.until).toISOString()}: firmware upgrade)`,
    );
  });

  it('a resume lifts the hold and lets the held move go in the same evaluation', () => {
    const input = withInstance(paused(world()), 'primary', { state: 'stopped' });
    const decision = decide({ ...input, command: { action: 'resume', by: 'bob' } });
    expect(decision.plan).toMatchObject({ kind: 'failover', trigger: 'hard-loss', to: 'standby' });
    expect(decision.plan.reasons[0]).toMatch(/^operator command: resume by bob \(lifts: paused by alice/);
    expect(decision.memory.pause).toBeUndefined();
    expect(kinds(decision)).not.toContain('paused');
  });
});
