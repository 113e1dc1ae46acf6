import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as controllerHandler } from '../../functions/controller/handler.ts';
import { handler as resizeHandler } from '../../functions/resize/handler.ts';
import { runController } from '../../shared/controller/run.ts';
import type { RunSummary } from '../../shared/controller/types.ts';
import { runStep, type StepResult } from '../../shared/resize/steps.ts';
import { ENV } from '../../shared/telemetry-names.ts';
import { DEPLOYED_EXAMPLE_CONFIG } from '../support/deployed-config.ts';

/**
 * The deployed entry points answer for a run or a step only once it has ended. Were they to answer early (a
 * timeout of their own just before Lambda's), Lambda would freeze the environment with the work still
 * pending, and it would carry on writing routes or stopping instances during a later invocation.
 */

vi.mock('../../shared/controller/run.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../shared/controller/run.ts')>()),
  runController: vi.fn(),
}));
vi.mock('../../shared/controller/metrics.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../shared/controller/metrics.ts')>()),
  publishRunMetrics: vi.fn(),
}));
vi.mock('../../shared/resize/steps.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../shared/resize/steps.ts')>()),
  runStep: vi.fn(),
}));

/** Lambda's context with `remainingMs` left before the function times out. */
const contextWith = (remainingMs: number) =>
  ({ awsRequestId: 'req-1', getRemainingTimeInMillis: () => remainingMs }) as unknown as Context;

/** Resolves to `value` after `ms` of real time. */
const resolvesAfter = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

beforeEach(() => {
  vi.stubEnv(ENV.configPath, DEPLOYED_EXAMPLE_CONFIG);
  vi.stubEnv(ENV.tableName, 'vpn-failover-state');
  vi.stubEnv(ENV.probeDocument, 'VpnFailover-DaemonProbe');
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetAllMocks();
});

describe('the Lambda entry points near the function timeout', () => {
  it('the controller answers with its run once the run has ended, even in the last milliseconds', async () => {
    const summary = { trigger: { kind: 'reconcile' }, pairs: [] } as unknown as RunSummary;
    vi.mocked(runController).mockImplementation(() => resolvesAfter(40, summary));

    const answer = await controllerHandler({ action: 'reconcile' }, contextWith(20));

    expect(answer).toBe(summary);
  });

  it('a resize step answers with its result once the step has ended, even in the last milliseconds', async () => {
    const result = { ok: true } as unknown as StepResult;
    vi.mocked(runStep).mockImplementation(() => resolvesAfter(40, result));

    const answer = await resizeHandler(
      { step: 'preflight', request: {}, execution: 'exec-1' },
      contextWith(20),
    );

    expect(answer).toBe(result);
  });
});
