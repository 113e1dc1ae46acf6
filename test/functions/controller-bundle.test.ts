import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The packages whose code lands in the controller's bundle, bundled as the CDK app bundles it (ESM for node24,
 * `module`-first main fields, minified so that unused code is dropped).
 */
async function bundledPackages(entry: string): Promise<Set<string>> {
  const result = await build({
    entryPoints: [`${ROOT}${entry}`],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const packages = new Set<string>();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (match && bytesInOutput > 0) packages.add(match[1] as string);
    }
  }
  return packages;
}

describe('the controller Lambda bundle', () => {
  let packages: Set<string>;
  beforeAll(async () => {
    packages = await bundledPackages('functions/controller/handler.ts');
  });

  it('carries no YAML parser: the Lambda reads the deployed configuration as JSON', () => {
    expect(packages).toContain('@aws-sdk/client-ec2');
    expect(packages).not.toContain('yaml');
  });

  it('carries no Step Functions client: the controller never calls Step Functions', () => {
    expect(packages).toContain('@aws-sdk/client-ec2');
    expect(packages).not.toContain('@aws-sdk/client-sfn');
  });
});
