import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleLambda, literalSchemaKeys, PROJECT_ROOT, SCHEMA_MODULE } from '../../infra/bundling.ts';
import { CONTROLLER_ENTRY } from '../../infra/controller.ts';
import { ENV } from '../../shared/telemetry-names.ts';
import { DEPLOYED_EXAMPLE_CONFIG } from '../support/deployed-config.ts';

/** The controller's bundle, built as the CDK app builds it (infra/bundling.ts), once for this file. */
const outdir = mkdtempSync(join(tmpdir(), 'vpn-failover-bundle-'));
let metafile: Metafile;
let bundle: string;
beforeAll(async () => {
  metafile = await bundleLambda(CONTROLLER_ENTRY, outdir);
  bundle = readFileSync(join(outdir, 'index.mjs'), 'utf8');
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** Each input file that has code in the bundle, with the bytes it contributes. */
function bundledInputs(): Map<string, number> {
  const inputs = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      if (bytesInOutput > 0) inputs.set(input, bytesInOutput);
    }
  }
  return inputs;
}

/** The packages whose code lands in the bundle. */
function bundledPackages(): Set<string> {
  const packages = new Set<string>();
  for (const input of bundledInputs().keys()) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) packages.add(match[1] as string);
  }
  return packages;
}

const EC2_COMMANDS = join(PROJECT_ROOT, 'node_modules/@aws-sdk/client-ec2/dist-es/commands');

describe('the controller Lambda bundle', () => {
  it('carries no YAML parser: the Lambda reads the deployed configuration as JSON', () => {
    expect(bundledPackages()).toContain('@aws-sdk/client-ec2');
    expect(bundledPackages()).not.toContain('yaml');
  });

  it('carries no Step Functions client: the controller never calls Step Functions', () => {
    expect(bundledPackages()).toContain('@aws-sdk/client-ec2');
    expect(bundledPackages()).not.toContain('@aws-sdk/client-sfn');
  });

  it('carries only the environment credentials Lambda provides, not the SSO, STS, profile and IMDS chain', () => {
    const packages = bundledPackages();
    expect(packages).toContain('@aws-sdk/credential-provider-env');
    for (const chain of [
      '@aws-sdk/credential-provider-node',
      '@aws-sdk/credential-provider-ini',
      '@aws-sdk/credential-provider-sso',
      '@aws-sdk/credential-provider-web-identity',
      '@aws-sdk/nested-clients',
    ]) {
      expect(packages).not.toContain(chain);
    }
  });

  it('carries the EC2 schemas of the commands the controller sends, and none of the other operations', () => {
    const sent = new Set(
      [...bundledInputs().keys()].flatMap(
        (input) => /client-ec2\/dist-es\/commands\/(\w+)Command\.js$/.exec(input)?.[1] ?? [],
      ),
    );
    expect(sent).toContain('ReplaceRoute');
    expect(sent).toContain('DescribeRouteTables');
    const operations = readdirSync(EC2_COMMANDS).flatMap(
      (file) => /^(\w+)Command\.js$/.exec(file)?.[1] ?? [],
    );
    const carried = operations.filter((operation) => bundle.includes(`"${operation}Request"`));
    expect(carried.sort()).toEqual([...sent].sort());
  });

  it('rewrites schema keys without changing any schema of the SDK clients it carries', async () => {
    const schemaModules = [...bundledInputs().keys()]
      .map((input) => join(PROJECT_ROOT, input))
      .filter((path) => SCHEMA_MODULE.test(path));
    expect(schemaModules.some((path) => path.includes('client-ec2'))).toBe(true);
    for (const path of schemaModules) {
      const source = readFileSync(path, 'utf8');
      const rewritten = literalSchemaKeys(source);
      expect(rewritten, path).not.toBe(source);
      const [original, literal] = await Promise.all([evaluate(path, source), evaluate(path, rewritten)]);
      expect(Object.keys(literal), path).toEqual(Object.keys(original));
      expect(sameSchemas(original, literal, new Map()), path).toBe(true);
    }
  });

  // Importing node:http as an ES module reads every export, and its WebSocket getters load undici (tens of ms of
  // each cold start); the default chain's IMDS provider imported it, the SDK's HTTP handler only needs https.
  it('starts without loading Node’s bundled fetch (undici), which the default chain’s node:http import did', () => {
    const script = `await import('./index.mjs'); console.log(process.moduleLoadList.filter((m) => /undici/.test(m)).length);`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: outdir,
      encoding: 'utf8',
      env: { ...process.env, [ENV.configPath]: DEPLOYED_EXAMPLE_CONFIG },
    });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('0');
  });
});

/**
 * A schema module (its source given) bundled on its own and imported: its exports. Only its own relative
 * imports are bundled; packages stay imports, resolved from the project's node_modules (the file is written
 * under node_modules/.cache for that), so each evaluation compiles one module rather than a whole client.
 */
async function evaluate(path: string, source: string): Promise<Record<string, unknown>> {
  const cache = join(PROJECT_ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'vpn-failover-schemas-'));
  try {
    const file = join(dir, 'schemas.mjs');
    await build({
      stdin: { contents: source, resolveDir: dirname(path), sourcefile: path, loader: 'js' },
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      mainFields: ['module', 'main'],
      outfile: file,
      logLevel: 'silent',
    });
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Whether two schema values are the same structure: arrays, objects and maps member by member; a thunk
 * (`() => Shape$`) by what it returns; a class (an error type) by its name. Cycles through thunks are followed
 * once (`paired` remembers which value stands for which).
 */
function sameSchemas(a: unknown, b: unknown, paired: Map<object, unknown>): boolean {
  if (typeof a !== typeof b) return false;
  if (a === null || (typeof a !== 'object' && typeof a !== 'function')) return Object.is(a, b);
  const left = a as object;
  if (paired.has(left)) return paired.get(left) === b;
  paired.set(left, b);
  if (typeof a === 'function') {
    const [f, g] = [a as () => unknown, b as () => unknown];
    if (f.prototype !== undefined || g.prototype !== undefined) return f.name === g.name;
    return sameSchemas(f(), g(), paired);
  }
  if (Array.isArray(a) || Array.isArray(b) || a instanceof Map || b instanceof Map) {
    const [x, y] = [[...(a as Iterable<unknown>)], [...(b as Iterable<unknown>)]];
    return x.length === y.length && x.every((value, i) => sameSchemas(value, y[i], paired));
  }
  const [x, y] = [a as Record<string, unknown>, b as Record<string, unknown>];
  const keys = Object.keys(x);
  return (
    keys.length === Object.keys(y).length &&
    keys.every((key) => Object.hasOwn(y, key) && sameSchemas(x[key], y[key], paired))
  );
}
