import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, type RemovalPolicy, Stage } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { configHash, deployedConfigJson } from '../shared/config/load.ts';
import type { Config } from '../shared/config/schema.ts';
import { ENV } from '../shared/telemetry-names.ts';

/** The repository root: NodejsFunction entries and the lock file are resolved from it. */
export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Where the validated configuration lands inside every bundle (ENV.configPath points here). */
export const BUNDLED_CONFIG_PATH = '/var/task/config.json';

/**
 * ESM bundles that pull in CommonJS dependencies (pino) need `require`; esbuild's ESM output has none
 * ("Dynamic require is not supported", https://github.com/evanw/esbuild/issues/1921).
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

const shellQuote = (value: string): string => `'${value.replaceAll("'", "'\\''")}'`;

/**
 * Write the validated configuration as JSON where the bundler can copy it from. The file name carries a hash of
 * the content: the bundling command then differs per configuration, so CDK's in-process asset cache can never
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
 * A NodejsFunction with the house defaults: nodejs24.x on arm64; bundled by the local esbuild (never Docker)
 * as ESM with the createRequire banner and `module`-first main fields; the AWS SDK bundled so its version (and
 * retry behaviour) is pinned by our lock file; identifiers kept for readable stack traces; the validated
 * configuration copied into the bundle as `config.json` (no 4 KB environment ceiling) and located by ENV.configPath;
 * an explicit log group with retention; and its own role holding only write access to that log group
 * (no AWSLambdaBasicExecutionRole) to which callers add what the function needs. The log group and the role
 * are created beside the function, as `<id>Logs` and `<id>Role`.
 */
export class ControllerFunction extends NodejsFunction {
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
    super(scope, id, {
      entry: join(PROJECT_ROOT, props.entry),
      handler: props.handler ?? 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
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
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        bundleAwsSDK: true,
        // Stack traces stay readable without a source map: whitespace and syntax are minified but identifiers are
        // kept (and keepNames keeps the names esbuild changes on collisions), so a trace names each function and
        // class as written. Shipping the 6 MB map instead needs --enable-source-maps, which parses it at every
        // cold start: measured by `npm run bench` (lambda package), the import went from about 1.1 x to about
        // 0.6 x the unbundled SDK clients and resident memory from 180 to 100 MB. Minifying identifiers too
        // (1.3 MB instead of 1.9 MB) imported no faster when measured, and traces then name classes `e`.
        sourceMap: false,
        minify: false,
        esbuildArgs: { '--minify-whitespace': true, '--minify-syntax': true },
        keepNames: true,
        forceDockerBundling: false,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => [
            `cp ${shellQuote(props.configFile)} ${shellQuote(join(outputDir, 'config.json'))}`,
          ],
        },
      },
    });
    this.functionLogGroup = logGroup;
  }
}
