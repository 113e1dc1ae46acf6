import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { CONTEXT, ConfigNotNamedError, cliContext } from '../../infra/context.ts';
import { InputError } from '../../shared/errors.ts';
import { COMPILE_CACHE_ENV } from '../child-env.ts';
import { SKIP_BUNDLING, testApp } from './test-app.ts';

const scratch = mkdtempSync(join(tmpdir(), 'vpn-failover-app-'));

/** A configuration with two independent mistakes. */
const invalidConfig = join(scratch, 'invalid.yaml');
writeFileSync(
  invalidConfig,
  `pairs:
  - name: branch-a
    primary: { instanceId: i-0123456789abcdef0 }
    standby: { instanceId: not-an-instance }
    routeTables: [rtb-0a1b2c3d4e5f60718]
    destinations: [10.50.0.1/16]
`,
);

/** How a run of the app ended. */
interface AppRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Whether the run loaded any part of aws-cdk-lib. */
  readonly loadedCdk: boolean;
}

/** Preloaded into each run: it lists the modules the run loaded (RECORD_MODULES). */
const RECORD_MODULES = new URL('./fixtures/record-modules.ts', import.meta.url).pathname;

/**
 * Run the app the way `cdk synth` does: the CLI passes context and the output directory as environment. Not
 * blocking, so that the runs overlap.
 */
function runApp(
  context: Record<string, unknown>,
  outdir = mkdtempSync(join(scratch, 'out-')),
  env: Record<string, string | undefined> = {},
): Promise<AppRun> {
  const modules = join(mkdtempSync(join(scratch, 'modules-')), 'loaded.txt');
  const merged: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [key, value] of Object.entries(merged)) if (value === undefined) delete merged[key];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', RECORD_MODULES, 'infra/bin/app.ts'],
      {
        encoding: 'utf8',
        env: {
          ...merged,
          CDK_CONTEXT_JSON: JSON.stringify(context),
          CDK_OUTDIR: outdir,
          RECORD_MODULES: modules,
          ...COMPILE_CACHE_ENV,
        },
      },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        const loadedCdk = readFileSync(modules, 'utf8').includes('/node_modules/aws-cdk-lib/');
        resolve({ status, stdout, stderr, loadedCdk });
      },
    );
  });
}

/** The example configuration, which tests name explicitly as a user must. */
const EXAMPLE = 'examples/pairs.yaml';

describe.concurrent('the CDK app, run as the CDK CLI runs it', () => {
  // The one run that loads the CDK starts first, so that the quick runs and the in-process tests overlap it.
  it('synthesizes a named configuration without AWS credentials', async () => {
    const outdir = mkdtempSync(join(scratch, 'out-'));
    const result = await runApp({ ...SKIP_BUNDLING, nag: 'false', config: EXAMPLE }, outdir, {
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_REGION: undefined,
      AWS_DEFAULT_REGION: undefined,
      AWS_CONFIG_FILE: join(scratch, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      // CloudFormation's rules take most of a synth; the in-process synth of the same configuration below
      // checks them (violations fail it, and its report must be empty).
      CDK_VALIDATION: 'false',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const template = JSON.parse(readFileSync(join(outdir, 'VpnFailover.template.json'), 'utf8'));
    expect(template.Outputs.DeploymentName.Value).toBe('VpnFailover');
  });

  it('refuses to synth without -c config=FILE, in one line naming what to pass and the example, writing no template and not loading the CDK', async () => {
    const outdir = mkdtempSync(join(scratch, 'out-'));
    const result = await runApp({}, outdir);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'no configuration named: pass -c config=FILE (e.g. npx cdk deploy -c config=my-pairs.yaml); examples/pairs.yaml is there to try with\n',
    );
    expect(readdirSync(outdir)).toEqual([]);
    expect(result.loadedCdk).toBe(false);
  });

  it('fails synth on an invalid configuration, listing every problem by its path, before loading the CDK or bundling anything', async () => {
    const result = await runApp({ config: invalidConfig });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`invalid configuration ${invalidConfig}`);
    expect(result.stderr).toContain('pairs[0].standby.instanceId: expected i-… (got "not-an-instance")');
    expect(result.stderr).toContain('pairs[0].destinations[0]:');
    expect(result.stderr).not.toContain('Bundling');
    expect(result.loadedCdk).toBe(false);
  });

  it('fails synth on a configuration file that does not exist', async () => {
    const result = await runApp({ config: join(scratch, 'missing.yaml') });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('missing.yaml');
  });
});

describe.concurrent('the CDK app, built in process', () => {
  it('reads the configuration and settings from the context the CDK CLI hands over, as the CDK itself reads it', () => {
    // The CLI passes a large context in a file instead of CDK_CONTEXT_JSON; its keys win.
    const overflow = join(scratch, 'overflow.json');
    writeFileSync(overflow, JSON.stringify({ stackName: 'FromFile', nag: 'false' }));
    vi.stubEnv('CDK_CONTEXT_JSON', JSON.stringify({ config: EXAMPLE, stackName: 'FromEnvironment' }));
    vi.stubEnv('CONTEXT_OVERFLOW_LOCATION_ENV', overflow);
    try {
      const app = new App();
      const read = cliContext();
      for (const key of Object.values(CONTEXT)) expect(read(key)).toEqual(app.node.tryGetContext(key));
      expect(read(CONTEXT.stackName)).toBe('FromFile');
      expect(read(CONTEXT.config)).toBe(EXAMPLE);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('fails synth when recovery alarms for every member would not fit in one stack, saying what to change', () => {
    const tooMany = join(scratch, 'recover-250.json');
    const pairs = Array.from({ length: 250 }, (_, i) => ({
      name: `pair-${i}`,
      primary: { instanceId: `i-${(2 * i).toString(16).padStart(17, '0')}` },
      standby: { instanceId: `i-${(2 * i + 1).toString(16).padStart(17, '0')}` },
      routeTables: [`rtb-${i.toString(16).padStart(17, '0')}`],
      destinations: ['10.50.0.0/16'],
    }));
    writeFileSync(tooMany, JSON.stringify({ pairs }));
    let thrown: unknown;
    try {
      buildApp(testApp({ ...SKIP_BUNDLING, config: tooMany, recoverMembers: 'true' }));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InputError);
    expect((thrown as InputError).message).toContain(
      'recoverMembers: recoverMembers with 250 pairs needs 500 alarms, so the stack would hold',
    );
    expect((thrown as InputError).message).toContain("above CloudFormation's limit of 500");
  });

  it('refuses to build the stack in process without a configuration', () => {
    const app = testApp({ ...SKIP_BUNDLING, nag: 'false' });
    expect(() => buildApp(app)).toThrow(ConfigNotNamedError);
    expect(app.node.children).toEqual([]);
  });

  it('reports the configuration problems as an InputError when built in process', () => {
    let thrown: unknown;
    try {
      buildApp(testApp({ ...SKIP_BUNDLING, config: invalidConfig }));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InputError);
    expect((thrown as InputError).problems.map((p) => p.path)).toEqual([
      'pairs[0].standby.instanceId',
      'pairs[0].destinations[0]',
    ]);
  });

  it('synthesizes the named configuration into one environment-agnostic stack named VpnFailover that passes CloudFormation validation', () => {
    const app = testApp({ ...SKIP_BUNDLING, nag: 'false', config: EXAMPLE });
    const stack = buildApp(app);
    expect(stack.stackName).toBe('VpnFailover');
    expect(stack.environment).toBe('aws://unknown-account/unknown-region');
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { 'instance-id': ['i-0123456789abcdef0', 'i-0fedcba9876543210'] } },
    });
    // cdk.json's validateAgainstDefaultRules makes a violation fail synth; a warning would only be reported.
    const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports).toEqual([]);
  });

  it('takes the stack name, recovery alarms and data retention from context', () => {
    const app = testApp({
      ...SKIP_BUNDLING,
      nag: 'false',
      config: EXAMPLE,
      stackName: 'EdgeVpn',
      recoverMembers: 'true',
      retainData: 'false',
    });
    const template = Template.fromStack(buildApp(app));
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'EdgeVpn.pair.branch-a.primary.recover',
    });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });

  it('rejects a context flag that is neither true nor false', () => {
    expect(() => buildApp(testApp({ ...SKIP_BUNDLING, config: EXAMPLE, recoverMembers: 'yes' }))).toThrow(
      InputError,
    );
  });
});
