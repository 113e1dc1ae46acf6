import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp, ConfigNotNamedError } from '../../infra/app.ts';
import { InputError } from '../../shared/errors.ts';
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
}

/**
 * Run the app the way `cdk synth` does: the CLI passes context and the output directory as environment. Not
 * blocking, so that the runs (each loads the CDK afresh) overlap.
 */
function runApp(
  context: Record<string, unknown>,
  outdir = mkdtempSync(join(scratch, 'out-')),
  env: Record<string, string | undefined> = {},
): Promise<AppRun> {
  const merged: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [key, value] of Object.entries(merged)) if (value === undefined) delete merged[key];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['infra/bin/app.ts'],
      { encoding: 'utf8', env: { ...merged, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: outdir } },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

/** The example configuration, which tests name explicitly as a user must. */
const EXAMPLE = 'examples/pairs.yaml';

describe.concurrent('the CDK app, run as the CDK CLI runs it', () => {
  it('refuses to synth without -c config=FILE, in one line naming what to pass and the example, writing no template', async () => {
    const outdir = mkdtempSync(join(scratch, 'out-'));
    const result = await runApp({}, outdir);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'no configuration named: pass -c config=FILE (e.g. npx cdk deploy -c config=my-pairs.yaml); examples/pairs.yaml is there to try with\n',
    );
    expect(readdirSync(outdir)).toEqual([]);
  });

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
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const template = JSON.parse(readFileSync(join(outdir, 'VpnFailover.template.json'), 'utf8'));
    expect(template.Outputs.DeploymentName.Value).toBe('VpnFailover');
  });

  it('fails synth on an invalid configuration, listing every problem by its path, before bundling anything', async () => {
    const result = await runApp({ config: invalidConfig });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`invalid configuration ${invalidConfig}`);
    expect(result.stderr).toContain('pairs[0].standby.instanceId: expected i-… (got "not-an-instance")');
    expect(result.stderr).toContain('pairs[0].destinations[0]:');
    expect(result.stderr).not.toContain('Bundling');
  });

  it('fails synth when recovery alarms for every member would not fit in one stack, saying what to change', async () => {
    const tooMany = join(scratch, 'recover-250.json');
    const pairs = Array.from({ length: 250 }, (_, i) => ({
      name: `pair-${i}`,
      primary: { instanceId: `i-${(2 * i).toString(16).padStart(17, '0')}` },
      standby: { instanceId: `i-${(2 * i + 1).toString(16).padStart(17, '0')}` },
      routeTables: [`rtb-${i.toString(16).padStart(17, '0')}`],
      destinations: ['10.50.0.0/16'],
    }));
    writeFileSync(tooMany, JSON.stringify({ pairs }));
    const result = await runApp({ config: tooMany, recoverMembers: 'true' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'recoverMembers: recoverMembers with 250 pairs needs 500 alarms, so the stack would hold',
    );
    expect(result.stderr).toContain("above CloudFormation's limit of 500");
  });

  it('fails synth on a configuration file that does not exist', async () => {
    const result = await runApp({ config: join(scratch, 'missing.yaml') });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('missing.yaml');
  });
});

describe('the CDK app, built in process', () => {
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

  it('synthesizes the named configuration into one environment-agnostic stack named VpnFailover', () => {
    const app = testApp({ ...SKIP_BUNDLING, nag: 'false', config: EXAMPLE });
    const stack = buildApp(app);
    expect(stack.stackName).toBe('VpnFailover');
    expect(stack.environment).toBe('aws://unknown-account/unknown-region');
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { 'instance-id': ['i-0123456789abcdef0', 'i-0fedcba9876543210'] } },
    });
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
