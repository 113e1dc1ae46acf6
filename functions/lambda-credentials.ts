import { fromEnv } from '@aws-sdk/credential-provider-env';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * What the Lambda bundles use in place of `@aws-sdk/credential-provider-node` (an esbuild alias, infra/bundling.ts):
 * the Lambda runtime always puts the execution role's credentials in the environment
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime), so the
 * rest of the default chain (SSO, STS web identity, profiles, IMDS, and the nested SSO/OIDC/STS clients they
 * carry) is never reached there and needs not be loaded at each cold start. Same signature as the chain it
 * replaces; the SDK memoizes the provider as it does the chain's.
 */
export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}): AwsCredentialIdentityProvider =>
  fromEnv(init);
