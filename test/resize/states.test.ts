import { describe, expect, it } from 'vitest';
import { progressStep, RESIZE_STATES } from '../../shared/resize/states.ts';

describe('resize progress as an operator reads it', () => {
  it('names the members by role once the preflight has said which goes first', () => {
    expect(progressStep('Resize first member: stop', { first: 'standby', second: 'primary' })?.label).toBe(
      'Resize standby: stop',
    );
    expect(progressStep(RESIZE_STATES.failover, { first: 'standby' })?.label).toBe('Fail over to standby');
    expect(progressStep('Revert second member: set type', {})?.label).toBe('Revert second member: set type');
  });

  it('shows a polling loop (wait, check, choice) as one step', () => {
    const roles = { first: 'standby', second: 'primary' } as const;
    const loop = [
      'Resize first member: wait until stopped',
      'Resize first member: stopped?',
      'Resize first member: is it stopped?',
    ];
    const groups = new Set(loop.map((s) => progressStep(s, roles)?.group));
    expect([...groups]).toEqual(['Resize standby: wait until stopped']);
    expect(progressStep(RESIZE_STATES.soakCheck, roles)?.group).toBe(
      progressStep(RESIZE_STATES.soakWait, roles)?.group,
    );
  });

  it('hides the states that only move data or branch', () => {
    for (const state of [
      RESIZE_STATES.start,
      RESIZE_STATES.firstGate,
      RESIZE_STATES.ended,
      'Resize first member: watch health',
      'Revert first member: needed?',
    ]) {
      expect(progressStep(state, {})).toBeUndefined();
    }
  });
});
