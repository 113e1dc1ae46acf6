import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { CliError } from '../cli/operator.ts';
import { UsageError } from '../cli/resize.ts';
import { ConfigNotNamedError } from '../infra/context.ts';
import * as awsErrors from '../shared/aws/errors.ts';
import { StateStore } from '../shared/aws/state-store.ts';
import * as errors from '../shared/errors.ts';
import * as resizeErrors from '../shared/resize/errors.ts';
import { ServiceFault } from '../sim/faults.ts';
import { useLocalStateTable } from './support/dynamo.ts';

/**
 * Every error the project throws is named by its class's NAME, which Step Functions' Retry/Catch and callers
 * match on, and keeps the error it wraps as `cause`, so the AWS error behind it reaches the logs.
 */

type Make = (options: ErrorOptions) => Error;

/** Each error class by the name it is documented under, with a way to build one that wraps `cause`. */
const DOCUMENTED: Readonly<
  Record<string, { readonly type: abstract new (...args: never[]) => Error; readonly make: Make }>
> = {
  ControllerError: { type: errors.ControllerError, make: (o) => new errors.ControllerError('x', o) },
  InputError: { type: errors.InputError, make: (o) => new errors.InputError('configuration', [], o) },
  BadEventError: { type: errors.BadEventError, make: (o) => new errors.BadEventError('x', o) },
  UnhealthyTargetError: {
    type: errors.UnhealthyTargetError,
    make: (o) => new errors.UnhealthyTargetError('x', o),
  },
  ConflictError: { type: errors.ConflictError, make: (o) => new errors.ConflictError('x', o) },
  LeaseHeldError: { type: errors.LeaseHeldError, make: (o) => new errors.LeaseHeldError('x', o) },
  ThrottledError: { type: errors.ThrottledError, make: (o) => new errors.ThrottledError('x', o) },
  RouteNotConfirmedError: {
    type: errors.RouteNotConfirmedError,
    make: (o) => new errors.RouteNotConfirmedError('x', o),
  },
  AwsError: { type: awsErrors.AwsError, make: (o) => new awsErrors.AwsError('x', 'SomeCode', o) },
  InsufficientCapacityError: {
    type: awsErrors.InsufficientCapacityError,
    make: (o) => new awsErrors.InsufficientCapacityError('x', o),
  },
  IncorrectInstanceStateError: {
    type: awsErrors.IncorrectInstanceStateError,
    make: (o) => new awsErrors.IncorrectInstanceStateError('x', o),
  },
  InvalidInstanceTypeError: {
    type: awsErrors.InvalidInstanceTypeError,
    make: (o) => new awsErrors.InvalidInstanceTypeError('x', o),
  },
  PreflightFailedError: {
    type: resizeErrors.PreflightFailedError,
    make: (o) => new resizeErrors.PreflightFailedError('branch-a', ['x'], o),
  },
  MemberCarriesTrafficError: {
    type: resizeErrors.MemberCarriesTrafficError,
    make: (o) => new resizeErrors.MemberCarriesTrafficError('x', o),
  },
  RoutesUnreadableError: {
    type: resizeErrors.RoutesUnreadableError,
    make: (o) => new resizeErrors.RoutesUnreadableError('x', o),
  },
  StopTimeoutError: {
    type: resizeErrors.StopTimeoutError,
    make: (o) => new resizeErrors.StopTimeoutError('x', o),
  },
  MemberNotHealthyError: {
    type: resizeErrors.MemberNotHealthyError,
    make: (o) => new resizeErrors.MemberNotHealthyError('x', o),
  },
  SoakFailedError: {
    type: resizeErrors.SoakFailedError,
    make: (o) => new resizeErrors.SoakFailedError('x', o),
  },
  CliError: { type: CliError, make: (o) => new CliError('x', 1, o) },
  UsageError: { type: UsageError, make: (o) => new UsageError('x', o) },
  ConfigNotNamedError: { type: ConfigNotNamedError, make: (o) => new ConfigNotNamedError(o) },
  ServiceFault: { type: ServiceFault, make: (o) => new ServiceFault('SomeCode', 'x', 400, o) },
};

/** Every `class X extends Y` in the product's source whose base is an error class. */
function errorClassesInSource(): string[] {
  const found: string[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith('.ts')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/\bclass (\w+) extends (\w+)/g)) {
          if (/(Error|Fault)$/.test(m[2] ?? '')) found.push(m[1] ?? '');
        }
      }
    }
  };
  for (const dir of ['shared', 'functions', 'cli', 'infra', 'sim', 'bench']) visit(dir);
  return found.filter((name) => name !== errors.NamedError.name).sort();
}

describe('error names', () => {
  it('documents every error class of the source, and each derives from the one base', () => {
    expect(errorClassesInSource()).toEqual(Object.keys(DOCUMENTED).sort());
    for (const { type } of Object.values(DOCUMENTED)) {
      expect(type.prototype).toBeInstanceOf(errors.NamedError);
    }
  });

  it.each(Object.entries(DOCUMENTED))('names %s by its own documented NAME', (name, { type, make }) => {
    const error = make({});

    expect(error).toBeInstanceOf(type);
    expect(error.name).toBe(name);
    expect(Object.hasOwn(type, 'NAME') && (type as unknown as { NAME: string }).NAME).toBe(name);
    expect(String(error)).toMatch(new RegExp(`^${name}: `));
  });

  it('keeps every name when the bundler renames the classes, as the deployed Lambda bundle does', async () => {
    const bundled = await build({
      stdin: {
        contents: ['errors', 'aws/errors', 'resize/errors']
          .map((m) => `export * from './shared/${m}.ts';`)
          .join('\n'),
        resolveDir: process.cwd(),
        loader: 'ts',
      },
      bundle: true,
      minify: true,
      format: 'esm',
      write: false,
    });
    const code = bundled.outputFiles[0]?.text ?? '';
    const minified: Record<string, unknown> = await import(
      `data:text/javascript;base64,${Buffer.from(code).toString('base64')}`
    );
    const isErrorClass = ([exported, value]: [string, unknown]) =>
      typeof value === 'function' && value.prototype instanceof Error && exported !== errors.NamedError.NAME;
    const classes = Object.entries(minified).filter(isErrorClass) as [
      string,
      new (...args: unknown[]) => Error,
    ][];

    expect(classes.map(([exported]) => exported).sort()).toEqual(
      Object.entries({ ...errors, ...awsErrors, ...resizeErrors })
        .filter(isErrorClass)
        .map(([exported]) => exported)
        .sort(),
    );
    // the bundler did rename the classes, so the names below cannot have come from the class names
    expect(classes.filter(([exported, type]) => type.name !== exported)).not.toEqual([]);
    for (const [exported, type] of classes) expect(new type('x', []).name).toBe(exported);
  });
});

describe('wrapped errors keep what they wrap', () => {
  it.each(Object.entries(DOCUMENTED))('%s keeps its cause', (_name, { make }) => {
    const cause = Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded' });

    expect(make({ cause }).cause).toBe(cause);
  });
});

describe('a refused lease keeps the DynamoDB error that refused it', () => {
  const local = useLocalStateTable();
  const T0 = Date.parse('2026-09-01T12:00:00.000Z');
  const resize = { owner: 'resize-branch-a-1', until: T0 + 30 * 60_000 };

  it('taking a lease someone else holds', async () => {
    const states = new StateStore({ dynamo: local.dynamo, tableName: local.tableName });
    await states.acquireLease('branch-a', resize, T0);

    const refused = await states
      .acquireLease('branch-a', { owner: 'operator', until: T0 + 60 * 60_000 }, T0 + 60_000)
      .catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(errors.LeaseHeldError);
    expect((refused as Error).cause).toMatchObject({ name: 'ConditionalCheckFailedException' });
  });

  it('releasing a lease someone else holds', async () => {
    const states = new StateStore({ dynamo: local.dynamo, tableName: local.tableName });
    await states.acquireLease('branch-a', resize, T0);

    const refused = await states.releaseLease('branch-a', 'operator').catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(errors.LeaseHeldError);
    expect((refused as Error).cause).toMatchObject({ name: 'ConditionalCheckFailedException' });
  });
});
