import { describe, expect, it } from 'vitest';
import { BadEventError, InputError } from '../../shared/errors.ts';
import { DEFAULT_SOAK_SECONDS } from '../../shared/resize/policy.ts';
import { executionName, parseResizeRequest, parseStepEvent } from '../../shared/resize/types.ts';

describe('the resize request (execution input)', () => {
  it('fills in the defaults: fail back to the primary, soak two minutes', () => {
    expect(parseResizeRequest({ pair: 'branch-a', instanceType: 'c6in.xlarge' })).toEqual({
      pair: 'branch-a',
      instanceType: 'c6in.xlarge',
      failback: true,
      soak: DEFAULT_SOAK_SECONDS,
    });
  });

  it('accepts the soak as a duration or as seconds', () => {
    expect(parseResizeRequest({ pair: 'p', instanceType: 'm7i-flex.large', soak: '90s' }).soak).toBe(90);
    expect(
      parseResizeRequest({ pair: 'p', instanceType: 'u-6tb1.112xlarge', soak: 300, failback: false }),
    ).toMatchObject({
      soak: 300,
      failback: false,
    });
  });

  it('rejects a malformed type, soak and unknown field, naming each by its path', () => {
    let caught: unknown;
    try {
      parseResizeRequest({ pair: 'branch-a', instanceType: 'C6IN XL', soak: 'forever', force: true });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as InputError).problems.map((p) => p.path).sort()).toEqual(['', 'instanceType', 'soak']);
  });

  it('rejects a soak longer than a day', () => {
    expect(() => parseResizeRequest({ pair: 'p', instanceType: 'c6in.xlarge', soak: '2d' })).toThrow(
      InputError,
    );
  });
});

describe('the execution name', () => {
  it('is resize-PAIR-TIME, unique to the second and valid for Step Functions', () => {
    const name = executionName('branch-a', Date.UTC(2026, 0, 2, 3, 4, 5, 678));
    expect(name).toBe('resize-branch-a-20260102T030405Z');
    expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });
});

describe('the resize step events', () => {
  it('reject an unknown step or a missing context with BadEventError before doing anything', () => {
    expect(() => parseStepEvent({ step: 'reboot' })).toThrow(BadEventError);
    expect(() => parseStepEvent({ step: 'stop', stage: 'first' })).toThrow(BadEventError);
  });

  it('accept the conclude step without a context, as after a refused preflight', () => {
    const event = parseStepEvent({
      step: 'conclude',
      request: { pair: 'branch-a' },
      execution: 'resize-branch-a-20260101T000000Z',
      ctx: {},
      error: { Error: 'LeaseHeldError', Cause: '{}' },
      revertError: {},
    });
    expect(event.step).toBe('conclude');
  });
});
