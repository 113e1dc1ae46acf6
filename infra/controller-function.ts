import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssetHashType, Duration, type RemovalPolicy, Stage } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { configHash, deployedConfigJson } from '../shared/config/load.ts';
import type { Config } from '../shared/config/schema.ts';
import { ENV } from '../shared/telemetry-names.ts';
import { BUNDLE_MODULE, LambdaBundling, PROJECT_ROOT } from './bundling.ts';

/** Where the validated configuration lands inside every bundle (ENV.configPath points here). */
export const BUNDLED_CONFIG_PATH = '/var/task/config.json';

/**
 * Write the validated configuration as JSON where the bundler can copy it from. The file name carries a hash of
 * the content: the bundling options then differ per configuration, so CDK's in-process asset cache can never
 * hand one configuration's bundle to another, and a changed configuration changes the asset hash (a new Lambda
 * version is deployed). It goes into the cloud assembly directory, which `cdk synth` owns and recreates.
 */
export function writeConfigFile(scope: Construct, config: Config): string {
  const json = deployedConfigJson(config);
  const hash = configHash(config);
  const directory = Stage.of(scope)?.outdir ?? join(tmpdir(), 'vpn-failover');
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `vpn-failover-config.${hash}.json`);
  writeFileSync(file, json);
  return file;
}

/** What a function of the deployment needs beyond the house defaults (the controller's `addFunction`). */
export interface AddFunctionProps {
  /** The handler module, relative to the repository root. */
  readonly entry: string;
  /** @default 'handler' */
  readonly handler?: string;
  readonly description?: string;
  /** @default 60 seconds */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** Added to the common environment (config path, table, probe document, topic). */
  readonly environment?: Record<string, string>;
}

/** Props of {@link ControllerFunction}. */
export interface ControllerFunctionProps {
  /** The handler module, relative to the repository root (e.g. `functions/controller/handler.ts`). */
  readonly entry: string;
  /** The exported handler name. @default 'handler' */
  readonly handler?: string;
  /** The synth-time configuration file to bundle as `config.json` (see {@link writeConfigFile}). */
  readonly configFile: string;
  readonly description?: string;
  /** @default 60 seconds */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** Retention of the function's own log group. */
  readonly logRetention: RetentionDays;
  /** What happens to the log group when the stack is deleted. */
  readonly logRemovalPolicy: RemovalPolicy;
  /** Extra environment variables (ENV.configPath is always set). */
  readonly environment?: Record<string, string>;
}

/**
 * A Lambda function with the house defaults: nodejs24.x on arm64; bundled by the local esbuild (never Docker)
 * as one minified ESM file with function and class names kept for readable stack traces and no source map
 * (infra/bundling.ts); the AWS SDK bundled so its version (and retry behaviour) is pinned by our lock
 * file; the validated configuration copied into the bundle as `config.json` (no 4 KB environment ceiling) and
 * located by ENV.configPath; an explicit log group with retention; and its own role holding only write access
 * to that log group (no AWSLambdaBasicExecutionRole) to which callers add what the function needs. The log group
 * and the role are created beside the function, as `<id>Logs` and `<id>Role`.
 */
export class ControllerFunction extends LambdaFunction {
  /** The function's log group. */
  readonly functionLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ControllerFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the ${id} function of vpn-failover`,
    });
    logGroup.grantWrite(role);
    const runtime = Runtime.NODEJS_24_X;
    super(scope, id, {
      // The asset's hash is the bundle's (OUTPUT): the repository root is only where the bundler starts.
      code: Code.fromAsset(PROJECT_ROOT, {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          local: new LambdaBundling(props.entry, props.configFile),
          // Required by CDK for a Docker fallback that never happens: local bundling succeeds or throws.
          image: runtime.bundlingImage,
        },
      }),
      handler: `${BUNDLE_MODULE}.${props.handler ?? 'handler'}`,
      runtime,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(60),
      ...(props.description ? { description: props.description } : {}),
      role,
      logGroup,
      environment: {
        [ENV.configPath]: BUNDLED_CONFIG_PATH,
        ...props.environment,
      },
    });
    this.functionLogGroup = logGroup;
  }
}
