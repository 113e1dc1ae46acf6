import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STACK, describeError } from '../../cli/operator.ts';
import { alarmKindPrefix } from '../../cli/status.ts';
import { DEFAULT_STACK_NAME } from '../../infra/context.ts';
import { alarmName } from '../../infra/telemetry.ts';
import { toControllerError } from '../../shared/aws/errors.ts';
import { COMPILE_CACHE_ENV } from '../child-env.ts';

/**
 * Errors of the command line are one line a person can act on and a non-zero exit, never a stack trace (unless
 * asked for with --debug or VPN_FAILOVER_DEBUG=1), for every command, resize included.
 */

const run = promisify(execFile);

/** An environment in which the SDK finds no credentials at all (no files, no instance metadata). */
const NO_CREDENTIALS = {
  PATH: process.env.PATH ?? '',
  HOME: '/nonexistent',
  AWS_REGION: 'eu-west-1',
  AWS_CONFIG_FILE: '/nonexistent/config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
};

async function cli(args: readonly string[], env: Record<string, string> = NO_CREDENTIALS) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['cli/bin.ts', ...args], {
      env: { ...env, ...COMPILE_CACHE_ENV },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const sdkError = (name: string, message: string) => Object.assign(new Error(message), { name });

// Concurrent: each subprocess test waits a second on a fresh Node, and they need not wait for each other.
describe.concurrent('one line per error', () => {
  it('names missing credentials wherever they are found missing, however deep the cause', () => {
    const wrapped = toControllerError(
      sdkError('CredentialsProviderError', 'Could not load credentials from any providers'),
      'DescribeStacks VpnFailover',
    );

    expect(describeError(wrapped)).toBe('no AWS credentials found (set AWS_PROFILE or run aws configure)');
  });

  it('names a missing profile, a missing Region, expired and rejected credentials', () => {
    expect(
      describeError(
        toControllerError(
          sdkError('CredentialsProviderError', 'Profile oncall could not be found or parsed'),
          'x',
        ),
      ),
    ).toBe('Profile oncall could not be found or parsed (check --profile or AWS_PROFILE)');
    expect(describeError(new Error('Region is missing'))).toMatch(/^no AWS Region set \(pass --region/);
    expect(describeError(toControllerError(sdkError('ExpiredTokenException', 'expired'), 'x'))).toMatch(
      /^the AWS credentials have expired/,
    );
    expect(describeError(toControllerError(sdkError('InvalidClientTokenId', 'bad'), 'x'))).toBe(
      'AWS rejected the credentials (InvalidClientTokenId): check AWS_PROFILE or run aws configure',
    );
  });

  it('keeps any other error to its first line', () => {
    expect(describeError(new Error('DescribeAlarms: AccessDenied: not allowed\n    at somewhere'))).toBe(
      'DescribeAlarms: AccessDenied: not allowed',
    );
  });

  it('status without credentials: one line, exit 1, no stack trace', async () => {
    const { code, stdout, stderr } = await cli(['status']);

    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'vpn-failover status: no AWS credentials found (set AWS_PROFILE or run aws configure)\n',
    );
  });

  it('resize without credentials: no stack trace either', async () => {
    const { code, stderr } = await cli([
      'resize',
      'branch-a',
      '--to',
      'c6in.xlarge',
      '--state-machine-arn',
      'arn:aws:states:eu-west-1:123456789012:stateMachine:resize',
    ]);

    expect(code).toBe(1);
    expect(stderr).toContain(
      'vpn-failover: no AWS credentials found (set AWS_PROFILE or run aws configure)\n',
    );
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  it('--debug (or VPN_FAILOVER_DEBUG=1) adds the stack trace', async () => {
    const [flag, variable] = await Promise.all([
      cli(['status', '--debug']),
      cli(['doctor'], { ...NO_CREDENTIALS, VPN_FAILOVER_DEBUG: '1' }),
    ]);

    expect(flag.code).toBe(1);
    expect(flag.stderr).toMatch(/^vpn-failover status: no AWS credentials found.*\nAwsError: .*\n\s+at /);
    expect(variable.stderr).toMatch(/^vpn-failover doctor: no AWS credentials found.*\nAwsError: .*\n\s+at /);
  });
});

describe('names shared with the CDK app', () => {
  it('the default stack is the one the CDK app deploys', () => {
    expect(DEFAULT_STACK).toBe(DEFAULT_STACK_NAME);
  });

  it('status reads the alarms the stack names for each alarm kind', () => {
    expect(alarmName.kind('Prod', 'standby-unhealthy').startsWith(alarmKindPrefix('Prod'))).toBe(true);
    expect(alarmName.heartbeat('Prod').startsWith(alarmKindPrefix('Prod'))).toBe(false);
  });
});
