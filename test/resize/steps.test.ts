import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handleStep } from '../../functions/resize/handler.ts';
import { StateStore } from '../../shared/aws/state-store.ts';
import { loadConfigFile } from '../../shared/config/file.ts';
import { BadEventError, LeaseHeldError } from '../../shared/errors.ts';
import {
  MemberCarriesTrafficError,
  MemberNotHealthyError,
  PreflightFailedError,
  StopTimeoutError,
} from '../../shared/resize/errors.ts';
import { HEALTHY_POLL, STOP_POLL } from '../../shared/resize/policy.ts';
import { dryRunPreflight } from '../../shared/resize/step-preflight.ts';
import { runStep } from '../../shared/resize/steps.ts';
import type { ResizeContext } from '../../shared/resize/types.ts';
import { controllerDepsOf, createSimAccount, type SimAccount } from '../../sim/account.ts';

/**
 * The resize steps one at a time against the simulated account (the whole workflow is in test/workflow): what
 * each one refuses to do matters as much as what it does.
 */

const OWNER = 'resize-branch-a-20260101T000000Z';
let account: SimAccount;

beforeEach(async () => {
  account = await createSimAccount(loadConfigFile('examples/pairs.yaml'));
});
afterEach(async () => {
  await account.close();
});

/** Run `work` while virtual time moves, until it settles. */
async function settle<T>(work: () => Promise<T>): Promise<T> {
  let outcome: { value: T } | { error: unknown } | undefined;
  work().then(
    (value) => {
      outcome = { value };
    },
    (error: unknown) => {
      outcome = { error };
    },
  );
  for (let i = 0; i < 600 && outcome === undefined; i++)
    await account.clock.runUntil(account.clock.now() + 1000);
  if (outcome === undefined) throw new Error('the step did not finish within 10 virtual minutes');
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}

const step = (event: Record<string, unknown>) =>
  settle(() => handleStep(event, { awsRequestId: 'test' }, controllerDepsOf(account)));
const preflight = (execution = OWNER, request: Record<string, unknown> = {}) =>
  step({
    step: 'preflight',
    request: { pair: 'branch-a', instanceType: 'c6in.xlarge', ...request },
    execution,
  }) as Promise<ResizeContext>;
const store = () => new StateStore({ dynamo: account.clients.dynamo, tableName: account.tableName });
const calls = (action: string) => account.stats.calls.get(`EC2 ${action}`) ?? 0;

describe('the preflight step', () => {
  it('takes the lease for the execution, on the idle member, and plans it first', async () => {
    const ctx = await preflight();

    expect(ctx).toMatchObject({
      owner: OWNER,
      activeAtStart: 'primary',
      first: 'standby',
      second: 'primary',
    });
    const lease = (await settle(() => store().loadPair('branch-a'))).memory.lease;
    expect(lease).toMatchObject({ owner: OWNER, member: 'standby' });
    expect(calls('StopInstances')).toBe(0);
  });

  it('refuses a second resize of the pair with LeaseHeldError and touches nothing', async () => {
    await preflight();
    const before = calls('DescribeInstanceTypes');

    await expect(preflight('resize-branch-a-20260101T000030Z')).rejects.toThrow(LeaseHeldError);
    expect(calls('DescribeInstanceTypes')).toBe(before);
    expect(calls('StopInstances')).toBe(0);
  });

  it('refuses a type EC2 does not know, an unknown pair and a malformed request', async () => {
    await expect(preflight(OWNER, { instanceType: 'c6in.huge' })).rejects.toThrow(PreflightFailedError);
    await expect(preflight(OWNER, { pair: 'branch-z' })).rejects.toThrow(PreflightFailedError);
    await expect(preflight(OWNER, { soak: 'later' })).rejects.toThrow(/soak/);
    expect((await settle(() => store().loadPair('branch-a'))).memory.lease).toBeUndefined();
  });

  it('refuses while a member is unhealthy, listing the check', async () => {
    account.world.applyFault(account.world.member('branch-a', 'standby'), 'daemon-down');

    const error = await preflight().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreflightFailedError);
    expect((error as PreflightFailedError).problems.join('\n')).toMatch(
      /^both members healthy: standby is unhealthy/m,
    );
  });
});

describe('the dry-run preflight', () => {
  it('reports the checks without taking the lease', async () => {
    const { result } = await settle(() =>
      dryRunPreflight(controllerDepsOf(account), { pair: 'branch-a', instanceType: 'c6gn.xlarge' }),
    );

    // The members are x86_64; c6gn is Graviton (arm64).
    expect(result.ok).toBe(false);
    expect(result.checks.filter((c) => !c.ok).map((c) => c.name)).toContain('same architecture');
    expect((await settle(() => store().loadPair('branch-a'))).memory.lease).toBeUndefined();
  });
});

describe('the stop step', () => {
  it('refuses to stop the member carrying traffic, even under the lease', async () => {
    const ctx = await preflight();
    const ours = { ...ctx, first: 'primary', second: 'standby' } as ResizeContext;
    await settle(() =>
      store().acquireLease(
        'branch-a',
        { owner: OWNER, member: 'primary', until: account.clock.now() + 3600_000 },
        account.clock.now(),
      ),
    );

    await expect(step({ step: 'stop', ctx: ours, stage: 'first' })).rejects.toThrow(
      MemberCarriesTrafficError,
    );
    expect(calls('StopInstances')).toBe(0);
    expect(account.world.member('branch-a', 'primary').state).toBe('running');
  });

  it('refuses to stop a member its lease does not cover', async () => {
    const ctx = await preflight();

    await expect(step({ step: 'stop', ctx, stage: 'second' })).rejects.toThrow(LeaseHeldError);
    await expect(
      step({ step: 'stop', ctx: { ...ctx, owner: 'someone-else' }, stage: 'first' }),
    ).rejects.toThrow(LeaseHeldError);
    expect(calls('StopInstances')).toBe(0);
  });

  it('stops the idle member, and a second call leaves it stopping', async () => {
    const ctx = await preflight();

    expect(await step({ step: 'stop', ctx, stage: 'first' })).toMatchObject({ action: 'StopInstances' });
    expect(await step({ step: 'stop', ctx, stage: 'first' })).toMatchObject({ action: 'already stopping' });
    expect(calls('StopInstances')).toBe(1);
  });
});

describe('the polling steps', () => {
  it('give up with StopTimeoutError once the bound is reached', async () => {
    const ctx = await preflight();
    const poll = { attempt: STOP_POLL.maxAttempts - 1, done: false };

    await expect(step({ step: 'checkStopped', ctx, stage: 'first', poll })).rejects.toThrow(StopTimeoutError);
  });

  it('count attempts until the member is healthy', async () => {
    const ctx = await preflight();

    expect(
      await step({ step: 'checkHealthy', ctx, stage: 'first', poll: { attempt: 3, done: false } }),
    ).toMatchObject({
      attempt: 4,
      done: true,
    });
  });

  it('give up with MemberNotHealthyError once the bound is reached', async () => {
    const ctx = await preflight();
    account.world.applyFault(account.world.member('branch-a', 'standby'), 'daemon-down');
    const poll = { attempt: HEALTHY_POLL.maxAttempts - 1, done: false };

    await expect(step({ step: 'checkHealthy', ctx, stage: 'first', poll })).rejects.toThrow(
      MemberNotHealthyError,
    );
  });
});

describe('the resize Lambda', () => {
  it('rejects an event it does not understand before doing anything', async () => {
    await expect(step({ step: 'stop' })).rejects.toThrow(BadEventError);
    await expect(
      settle(() => runStep(controllerDepsOf(account), { step: 'inspect', ctx: {} } as never)),
    ).rejects.toThrow();
    expect(account.stats.calls.size).toBe(0);
  });
});
