import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../functions/resize/handler.ts';
import { BadEventError } from '../../shared/errors.ts';
import { ENV } from '../../shared/telemetry-names.ts';
import { DEPLOYED_EXAMPLE_CONFIG } from '../support/deployed-config.ts';

/** The deployed entry point: handleStep with its dependencies from the environment the CDK app sets. */

const context = {
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the resize Lambda entry point', () => {
  it('rejects a malformed step event with BadEventError, naming the problem, before any AWS call', async () => {
    vi.stubEnv(ENV.configPath, DEPLOYED_EXAMPLE_CONFIG);
    vi.stubEnv(ENV.tableName, 'vpn-failover-state');
    vi.stubEnv(ENV.probeDocument, 'VpnFailover-DaemonProbe');

    const error = await handler({ step: 'stop', stage: 'third' }, context).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BadEventError);
    expect((error as Error).name).toBe(BadEventError.NAME);
    expect((error as Error).message).toContain('stage');
  });
});
