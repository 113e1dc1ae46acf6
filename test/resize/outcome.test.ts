import { describe, expect, it } from 'vitest';
import type { Role } from '../../shared/domain/types.ts';
import {
  causeMessage,
  concludeResize,
  type MemberState,
  type OutcomeFacts,
} from '../../shared/resize/outcome.ts';
import type { ResizeContext } from '../../shared/resize/types.ts';
import { INSTANCE } from '../decide/builders.ts';

const ctx: ResizeContext = {
  pair: 'branch-a',
  owner: 'resize-branch-a-20260101T000000Z',
  instanceType: 'c6in.xlarge',
  failback: true,
  soakSeconds: 120,
  leaseSeconds: 3720,
  activeAtStart: 'primary',
  first: 'standby',
  second: 'primary',
  originalTypes: { primary: 'c6in.large', standby: 'c6in.large' },
  skip: { first: false, second: false },
};

const member = (role: Role, instanceType: string, overrides: Partial<MemberState> = {}): MemberState => ({
  instanceId: INSTANCE[role],
  state: 'running',
  instanceType,
  health: 'healthy',
  ...overrides,
});

const facts = (overrides: Partial<OutcomeFacts>): OutcomeFacts => ({
  pair: 'branch-a',
  instanceType: 'c6in.xlarge',
  ctx,
  members: { primary: member('primary', 'c6in.xlarge'), standby: member('standby', 'c6in.xlarge') },
  carrying: 'primary',
  actions: ['lease released'],
  ...overrides,
});

const lambdaCause = (errorType: string, errorMessage: string) =>
  JSON.stringify({ errorType, errorMessage, trace: [] });

describe('how a resize ended', () => {
  it('succeeded when both members run the new type and traffic is back on a healthy primary', () => {
    const outcome = concludeResize(facts({}));

    expect(outcome.status).toBe('succeeded');
    expect(outcome.subject).toBe('vpn-failover: resize of pair branch-a to c6in.xlarge succeeded');
    expect(outcome.message).toContain('traffic on primary');
    expect(outcome.message).toContain('Lease released.');
  });

  it('failed when the path completed but traffic is not where it was asked to end', () => {
    expect(concludeResize(facts({ carrying: 'standby' })).status).toBe('failed');
  });

  it('rolled back when a step failed and the pair is as the workflow found it', () => {
    const outcome = concludeResize(
      facts({
        error: {
          Error: 'InsufficientCapacityError',
          Cause: lambdaCause('InsufficientCapacityError', 'no c6in.xlarge capacity'),
        },
        members: { primary: member('primary', 'c6in.large'), standby: member('standby', 'c6in.large') },
      }),
    );

    expect(outcome.status).toBe('rolled-back');
    expect(outcome.subject).toContain('rolled back');
    expect(outcome.message).toContain('rolled back after InsufficientCapacityError: no c6in.xlarge capacity');
  });

  it('failed when a member could not be reverted, saying so and where everything is', () => {
    const outcome = concludeResize(
      facts({
        error: { Error: 'MemberNotHealthyError', Cause: 'standby did not become healthy' },
        revertError: { Error: 'InsufficientCapacityError', Cause: 'no c6in.large capacity' },
        members: {
          primary: member('primary', 'c6in.large'),
          standby: member('standby', 'c6in.large', { state: 'stopped', health: 'unhealthy' }),
        },
      }),
    );

    expect(outcome.status).toBe('failed');
    expect(outcome.message).toContain(
      'Reverting a member failed too: InsufficientCapacityError: no c6in.large capacity.',
    );
    expect(outcome.message).toContain(`standby ${INSTANCE.standby} stopped c6in.large (unhealthy)`);
  });

  it('refused when the preflight did not pass, whatever the pair looks like', () => {
    const { ctx: _, ...rest } = facts({
      error: { Error: 'LeaseHeldError', Cause: lambdaCause('LeaseHeldError', 'held by resize-1') },
    });
    const outcome = concludeResize(rest);

    expect(outcome.status).toBe('refused');
    expect(outcome.message).toContain('refused: LeaseHeldError: held by resize-1');
  });

  it('says so when the pair is not configured', () => {
    const outcome = concludeResize({ pair: 'nope', actions: [], error: { Error: 'PreflightFailedError' } });
    expect(outcome.status).toBe('refused');
    expect(outcome.message).toContain('Pair state: not a configured pair.');
  });

  it('keeps the SNS subject ASCII and at most 100 characters', () => {
    const outcome = concludeResize(facts({ pair: `${'p'.repeat(90)}–x` }));
    expect(outcome.subject.length).toBeLessThanOrEqual(100);
    expect(outcome.subject).toMatch(/^[\x20-\x7e]+$/);
  });
});

describe('a Step Functions error cause', () => {
  it('reads the message of a Lambda error document, and anything else as it is', () => {
    expect(causeMessage({ Error: 'X', Cause: lambdaCause('X', 'the message') })).toBe('the message');
    expect(causeMessage({ Error: 'States.Timeout', Cause: 'plain text' })).toBe('plain text');
    expect(causeMessage({ Error: 'X' })).toBe('');
  });
});
