import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { App, Stack } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { bundleLambda } from '../infra/bundling.ts';
import { CONTROLLER_ENTRY } from '../infra/controller.ts';
import { VpnFailoverStack } from '../infra/stack.ts';
import { loadConfigFile } from '../shared/config/file.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SAMPLES = 7;
const TARGET_BUNDLE_KB = 900;
const TARGET_IMPORT_RATIO = 0.5;

/** The clients the controller calls, imported unbundled from node_modules: what the bundle must beat. */
const BASELINE_IMPORT = [
  '@aws-sdk/client-ec2',
  '@aws-sdk/client-ssm',
  '@aws-sdk/client-cloudwatch',
  '@aws-sdk/client-dynamodb',
]
  .map((name) => `await import(${JSON.stringify(name)});`)
  .join(' ');

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

/** Packages (or the project's own folders) shown in the bundle's breakdown, largest first. */
const BREAKDOWN_ENTRIES = 6;

/**
 * What the controller bundle is made of: bytes in the output by package (node_modules) or top-level folder of
 * the project, from esbuild's metafile of the same build (infra/bundling.ts), largest first.
 */
async function bundleBreakdown(): Promise<string> {
  const outdir = mkdtempSync(join(tmpdir(), 'vpn-failover-bench-meta-'));
  try {
    const metafile = await bundleLambda(CONTROLLER_ENTRY, outdir);
    const bytes = new Map<string, number>();
    for (const output of Object.values(metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        const name =
          /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? `${input.split('/')[0] as string}/`;
        bytes.set(name, (bytes.get(name) ?? 0) + bytesInOutput);
      }
    }
    return [...bytes]
      .sort((a, b) => b[1] - a[1])
      .slice(0, BREAKDOWN_ENTRIES)
      .map(([name, size]) => `${name} ${kb(size)}`)
      .join(', ');
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

/**
 * Time an import in a fresh `node` process (the Node that runs this bench); the child reports its own import
 * time and resident memory after it, so process start-up is not counted.
 */
function coldImport(importCode: string, cwd: string, nodeOptions: string): { ms: number; rssMb: number } {
  const script = `const t = performance.now(); ${importCode} const ms = performance.now() - t; console.log(JSON.stringify({ ms, rssMb: process.memoryUsage().rss / 1048576 }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd,
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').at(-1) as string);
}

/**
 * Median import time and resident memory of each of two imports, sampled alternately so that load from other
 * processes on the machine weighs on both alike.
 */
function sampleImports(
  a: { code: string; cwd: string; nodeOptions: string },
  b: { code: string; cwd: string; nodeOptions: string },
) {
  const samplesA: Array<{ ms: number; rssMb: number }> = [];
  const samplesB: Array<{ ms: number; rssMb: number }> = [];
  for (let i = 0; i < SAMPLES; i++) {
    samplesA.push(coldImport(a.code, a.cwd, a.nodeOptions));
    samplesB.push(coldImport(b.code, b.cwd, b.nodeOptions));
  }
  const summary = (samples: Array<{ ms: number; rssMb: number }>) => ({
    ms: median(samples.map((s) => s.ms)),
    rssMb: median(samples.map((s) => s.rssMb)),
  });
  return [summary(samplesA), summary(samplesB)] as const;
}

/**
 * Synthesize the stack with the example configuration, bundling the functions as `cdk synth` does, and
 * return the controller's asset directory and the NODE_OPTIONS it runs with.
 */
function synthController(outdir: string): { assetDir: string; handlerFile: string; nodeOptions: string } {
  const app = new App({
    outdir,
    // Asset metadata names each function's asset directory (the CLI sets it; `new App()` does not).
    context: {
      ...JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context,
      'aws:cdk:enable-asset-metadata': true,
    },
  });
  const stack = new VpnFailoverStack(app, 'VpnFailover', {
    config: loadConfigFile(join(ROOT, 'examples/pairs.yaml')),
  });
  const assembly = app.synth();
  const cfn = stack.controller.controller.node.defaultChild as CfnFunction;
  const logicalId = Stack.of(cfn).resolve(cfn.logicalId) as string;
  const template = assembly.getStackByName(stack.stackName).template as {
    Resources: Record<string, { Metadata?: Record<string, string>; Properties: Record<string, unknown> }>;
  };
  const resource = template.Resources[logicalId];
  const assetPath = resource?.Metadata?.['aws:asset:path'];
  if (resource === undefined || assetPath === undefined) throw new Error(`no asset for ${logicalId}`);
  const environment = (resource.Properties.Environment as { Variables?: Record<string, string> } | undefined)
    ?.Variables;
  const handler = String(resource.Properties.Handler);
  return {
    assetDir: join(assembly.directory, assetPath),
    handlerFile: handler.slice(0, handler.lastIndexOf('.')),
    nodeOptions: environment?.NODE_OPTIONS ?? '',
  };
}

/**
 * The controller Lambda's package as `cdk synth` builds it: bundle and source map sizes, its largest parts, cold import time of
 * the bundle with the NODE_OPTIONS the function sets, resident memory after it, against importing the four SDK
 * clients the controller uses unbundled (same Node, same run).
 */
export async function benchLambdaPackage(): Promise<string> {
  const outdir = mkdtempSync(join(tmpdir(), 'vpn-failover-bench-'));
  try {
    const { assetDir, handlerFile, nodeOptions } = synthController(outdir);
    const files = readdirSync(assetDir);
    const bundleName = files.find((f) => f === `${handlerFile}.mjs` || f === `${handlerFile}.js`);
    if (bundleName === undefined) throw new Error(`no ${handlerFile}.mjs in ${assetDir}`);
    const bundle = readFileSync(join(assetDir, bundleName));
    const mapName = `${bundleName}.map`;
    const mapBytes = files.includes(mapName) ? statSync(join(assetDir, mapName)).size : 0;
    const [deployed, baseline] = sampleImports(
      { code: `await import('./${bundleName}');`, cwd: assetDir, nodeOptions },
      { code: BASELINE_IMPORT, cwd: ROOT, nodeOptions: '' },
    );
    const ratio = deployed.ms / baseline.ms;
    const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
    return [
      `lambda package: the controller bundle as synthesized (examples/pairs.yaml); cold imports are the median of ${SAMPLES} fresh node processes each, bundle and baseline alternating`,
      `${`bundle ${bundleName}`.padEnd(35)}${kb(bundle.length)} (${kb(gzipSync(bundle).length)} gzipped); target <= ${TARGET_BUNDLE_KB} KB: ${mark(bundle.length <= TARGET_BUNDLE_KB * 1024)}`,
      `largest parts                      ${await bundleBreakdown()}`,
      `source map                         ${mapBytes === 0 ? 'none' : kb(mapBytes)}`,
      `cold import as deployed            ${deployed.ms.toFixed(0)} ms (NODE_OPTIONS=${JSON.stringify(nodeOptions)}), RSS after ${deployed.rssMb.toFixed(0)} MB`,
      `baseline: 4 SDK clients unbundled  ${baseline.ms.toFixed(0)} ms (EC2, SSM, CloudWatch, DynamoDB from node_modules), RSS after ${baseline.rssMb.toFixed(0)} MB`,
      `ratio                              ${ratio.toFixed(2)} x baseline; target <= ${TARGET_IMPORT_RATIO}: ${mark(ratio <= TARGET_IMPORT_RATIO)}`,
    ].join('\n');
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
