import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultProvider } from '../../functions/lambda-credentials.ts';

/**
 * In the Lambda bundles this provider stands in for the SDK's default chain (infra/bundling.ts): the clients
 * sign with what the Lambda runtime puts in the environment, the execution role's session credentials.
 */
afterEach(() => vi.unstubAllEnvs());

describe('the credentials of the Lambda bundles', () => {
  it('are the execution role session Lambda sets in the environment, session token included', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'ASIAEXAMPLEROLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'role-secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'role-session-token');

    const credentials = await defaultProvider()();

    expect(credentials).toMatchObject({
      accessKeyId: 'ASIAEXAMPLEROLE',
      secretAccessKey: 'role-secret',
      sessionToken: 'role-session-token',
    });
  });

  it('are refused with a clear error when the environment has none, instead of being looked for elsewhere', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', '');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', '');

    await expect(defaultProvider()()).rejects.toThrow('Unable to find environment variable credentials.');
  });
});
