import { resolve } from 'node:path';
import { type App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfigFile } from '../shared/config/file.ts';
import { InputError, NamedError } from '../shared/errors.ts';
import { VpnFailoverStack } from './stack.ts';

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

function flag(app: App, key: string, fallback: boolean): boolean {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new InputError('context', [
    { path: key, message: `expected true or false (got ${JSON.stringify(value)})` },
  ]);
}

function text(app: App, key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value !== '') return value;
  throw new InputError('context', [
    { path: key, message: `expected a non-empty string (got ${JSON.stringify(value)})` },
  ]);
}

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

/**
 * Build the app from its context: load and validate the configuration (an invalid file throws InputError
 * listing every problem, before any asset is bundled), add the stack and, unless disabled, cdk-nag. Without a
 * `config` in the context it throws ConfigNotNamedError.
 */
export function buildApp(app: App): VpnFailoverStack {
  const configPath = text(app, CONTEXT.config);
  if (configPath === undefined) throw new ConfigNotNamedError();
  const stackName = text(app, CONTEXT.stackName) ?? DEFAULT_STACK_NAME;
  const recoverMembers = flag(app, CONTEXT.recoverMembers, false);
  const retainData = flag(app, CONTEXT.retainData, true);
  const nag = flag(app, CONTEXT.nag, true);
  const config = loadConfigFile(resolve(configPath));
  const stack = new VpnFailoverStack(app, stackName, {
    config,
    controller: { recoverMembers, removalPolicy: retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY },
  });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
