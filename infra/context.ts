import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfigFile } from '../shared/config/file.ts';
import type { Config } from '../shared/config/schema.ts';
import { InputError, NamedError } from '../shared/errors.ts';

// The CDK app's settings, read from its context and checked without loading the CDK, so that a missing or
// invalid configuration fails `cdk synth` at once.

/** The stack name when no `-c stackName=NAME` is given. */
export const DEFAULT_STACK_NAME = 'VpnFailover';

/**
 * Context keys the app reads (`cdk synth -c key=value`; values given on the command line are strings):
 * - `config` (required): the configuration file, relative to the working directory;
 * - `stackName`: the stack and deployment name (default VpnFailover);
 * - `recoverMembers`: `true` adds an EC2 auto-recovery alarm per member (default false);
 * - `retainData`: `false` deletes the state table, topic key and logs with the stack (default true);
 * - `nag`: `false` skips the cdk-nag AwsSolutions checks (default true).
 */
export const CONTEXT = {
  config: 'config',
  stackName: 'stackName',
  recoverMembers: 'recoverMembers',
  retainData: 'retainData',
  nag: 'nag',
} as const;

/** The example configuration, named in the message that asks for one. */
export const EXAMPLE_CONFIG_PATH = 'examples/pairs.yaml';

/**
 * Synth without `-c config=FILE`: nothing is synthesized, so no deployment of the example pairs happens by
 * accident.
 */
export class ConfigNotNamedError extends NamedError {
  static override readonly NAME = 'ConfigNotNamedError';
  constructor(options?: ErrorOptions) {
    super(
      `no configuration named: pass -c config=FILE (e.g. npx cdk deploy -c config=my-pairs.yaml); ${EXAMPLE_CONFIG_PATH} is there to try with`,
      options,
    );
  }
}

/** One context value by key (undefined when not set): an App's `node.tryGetContext`, or cliContext(). */
export type ContextLookup = (key: string) => unknown;

/** What the app builds, from its context. */
export interface AppSettings {
  readonly stackName: string;
  readonly recoverMembers: boolean;
  readonly retainData: boolean;
  readonly nag: boolean;
  readonly config: Config;
}

function flag(context: ContextLookup, key: string, fallback: boolean): boolean {
  const value = context(key);
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new InputError('context', [
    { path: key, message: `expected true or false (got ${JSON.stringify(value)})` },
  ]);
}

function text(context: ContextLookup, key: string): string | undefined {
  const value = context(key);
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value !== '') return value;
  throw new InputError('context', [
    { path: key, message: `expected a non-empty string (got ${JSON.stringify(value)})` },
  ]);
}

/**
 * Read the app's settings and load the configuration (an invalid file throws InputError listing every
 * problem). Without a `config` in the context it throws ConfigNotNamedError.
 */
export function appSettings(context: ContextLookup): AppSettings {
  const configPath = text(context, CONTEXT.config);
  if (configPath === undefined) throw new ConfigNotNamedError();
  return {
    stackName: text(context, CONTEXT.stackName) ?? DEFAULT_STACK_NAME,
    recoverMembers: flag(context, CONTEXT.recoverMembers, false),
    retainData: flag(context, CONTEXT.retainData, true),
    nag: flag(context, CONTEXT.nag, true),
    config: loadConfigFile(resolve(configPath)),
  };
}

/**
 * The context the CDK CLI hands the app it runs (cdk.json, cdk.context.json and `-c` merged), read where
 * aws-cdk-lib's `new App()` reads it: JSON in CDK_CONTEXT_JSON and, when too large for the environment, a JSON
 * file named by CONTEXT_OVERFLOW_LOCATION_ENV, whose keys win. Reading it here spares loading the CDK to find
 * the configuration; test/infra/app.test.ts checks that both reads agree.
 */
export function cliContext(env: NodeJS.ProcessEnv = process.env): ContextLookup {
  const overflow = env.CONTEXT_OVERFLOW_LOCATION_ENV;
  const context: Record<string, unknown> = {
    ...(env.CDK_CONTEXT_JSON ? JSON.parse(env.CDK_CONTEXT_JSON) : {}),
    ...(overflow ? JSON.parse(readFileSync(overflow, 'utf8')) : {}),
  };
  return (key) => context[key];
}
