import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ILocalBundling } from 'aws-cdk-lib';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';

/**
 * How a Lambda of the product is bundled: esbuild's JavaScript API (its plugins are not available from the
 * command line that NodejsFunction drives), run by the Node that runs the CDK app, in a child process because
 * CDK's local bundling hook is synchronous. Run as a script: `node infra/bundling.ts ENTRY OUTDIR`.
 */

/** The repository root: entries, the alias below and the bundler's working directory are resolved from it. */
export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The bundle's module in the asset (`index.mjs`): a function's handler is `index.<export>`. */
export const BUNDLE_MODULE = 'index';

/**
 * ESM bundles that pull in CommonJS dependencies (pino) need `require`; esbuild's ESM output has none
 * ("Dynamic require is not supported", https://github.com/evanw/esbuild/issues/1921).
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/** The SDK clients' schema modules (one per client, and per nested client): what {@link literalSchemaKeys} rewrites. */
export const SCHEMA_MODULE =
  /[\\/]node_modules[\\/]@aws-sdk[\\/].+[\\/]dist-es[\\/](?:.+[\\/])?schemas_\d+\.js$/;

/** A module-level string constant as the SDK's code generator writes them: `const _xN = "xmlName";`. */
const STRING_CONSTANT = /^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm;
/** An object key computed from such a constant: `{ [_xN]: _TSa }`. */
const COMPUTED_KEY = /\[(_\w+)\]:/g;

/**
 * An SDK schema module with every object key computed from one of its own string constants written as that
 * string (`{ [_xN]: _TSa }` becomes `{ "xmlName": _TSa }`): the same objects, but no longer ones esbuild must keep.
 * A computed key may run code (ToPropertyKey), so esbuild keeps every schema that has one whether used or not,
 * and EC2's are nearly all of its ~3,400 (540 KB minified); with literal keys only the schemas reachable from
 * the commands the code sends remain. A constant that is not a plain string, or a key that is not such a
 * constant, is left as it is.
 */
export function literalSchemaKeys(source: string): string {
  const strings = new Map<string, string>();
  for (const [, name, value] of source.matchAll(STRING_CONSTANT))
    strings.set(name as string, value as string);
  return source.replace(COMPUTED_KEY, (key, name: string) => {
    const value = strings.get(name);
    return value === undefined ? key : `${value}:`;
  });
}

const schemaKeys: Plugin = {
  name: 'literal-schema-keys',
  setup(build) {
    build.onLoad({ filter: SCHEMA_MODULE }, async ({ path }) => ({
      contents: literalSchemaKeys(await readFile(path, 'utf8')),
      loader: 'js',
    }));
  },
};

/** The esbuild options of a Lambda bundle: `entry` (relative to the repository root) to OUTDIR/index.mjs. */
export function lambdaBuildOptions(entry: string, outdir: string): BuildOptions & { metafile: true } {
  return {
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [join(PROJECT_ROOT, entry)],
    outfile: join(outdir, `${BUNDLE_MODULE}.mjs`),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    banner: { js: ESM_REQUIRE_BANNER },
    // Identifiers are minified but keepNames gives every function and class its name as written, so a stack
    // trace names them (`BadEventError ... at parseEvent ... at handleEvent`) with no source map. A map needs
    // --enable-source-maps, which parses it at every cold start: measured by `npm run bench` (lambda package),
    // that import took about 1.1 x the unbundled SDK clients, against about 0.3 x for this bundle.
    minify: true,
    keepNames: true,
    sourcemap: false,
    // Lambda always provides the role's credentials in the environment: the default chain's SSO, STS and IMDS
    // providers (and their nested clients) would only be loaded at each cold start (functions/lambda-credentials.ts).
    alias: { '@aws-sdk/credential-provider-node': './functions/lambda-credentials.ts' },
    plugins: [schemaKeys],
    metafile: true,
    logLevel: 'warning',
  };
}

/** Bundle `entry` (relative to the repository root) into OUTDIR/index.mjs; returns esbuild's metafile. */
export async function bundleLambda(entry: string, outdir: string): Promise<Metafile> {
  const { metafile } = await build(lambdaBuildOptions(entry, outdir));
  return metafile;
}

/**
 * CDK's local bundling of a Lambda asset: the bundle, and the synth-time configuration file copied beside it as
 * `config.json`. Its fields are part of CDK's in-process asset cache key, so two configurations never share a
 * bundle.
 */
export class LambdaBundling implements ILocalBundling {
  readonly entry: string;
  readonly configFile: string;

  constructor(entry: string, configFile: string) {
    this.entry = entry;
    this.configFile = configFile;
  }

  tryBundle(outputDir: string): boolean {
    execFileSync(process.execPath, [fileURLToPath(import.meta.url), this.entry, outputDir], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    copyFileSync(this.configFile, join(outputDir, 'config.json'));
    return true;
  }
}

if (import.meta.main) {
  const [entry, outdir] = process.argv.slice(2);
  if (entry === undefined || outdir === undefined)
    throw new Error('usage: node infra/bundling.ts ENTRY OUTDIR');
  await bundleLambda(entry, outdir);
}
