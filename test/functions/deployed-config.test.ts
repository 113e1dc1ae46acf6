import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployedConfigJson, loadDeployedConfig, parseConfig } from '../../shared/config/load.ts';
import { InputError } from '../../shared/errors.ts';

const CONFIG = parseConfig({
  pairs: [
    {
      name: 'branch-a',
      primary: { instanceId: 'i-0123456789abcdef0' },
      standby: { instanceId: 'i-0fedcba9876543210' },
      routeTables: ['rtb-0a1b2c3d4e5f60718'],
      destinations: ['10.50.0.0/16'],
    },
  ],
});

const file = (text: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'vpn-failover-')), 'config.json');
  writeFileSync(path, text);
  return path;
};

const rejection = (call: () => unknown): InputError => {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('expected the file to be rejected');
};

describe('the configuration a Lambda reads from its bundle', () => {
  it('reads back exactly the configuration the CDK app wrote into the bundle', () => {
    expect(loadDeployedConfig(file(deployedConfigJson(CONFIG)))).toEqual(CONFIG);
  });

  it('says in one line that the bundled file is missing', () => {
    const path = join(tmpdir(), 'no-such-dir-vpn-failover', 'config.json');
    expect(rejection(() => loadDeployedConfig(path)).message).toBe(
      `invalid deployed configuration ${path}: no such file`,
    );
  });

  it('says in one line that the bundled file is not JSON, and reads no YAML', () => {
    const path = file('pairs:\n  - name: branch-a\n');
    const message = rejection(() => loadDeployedConfig(path)).message;
    expect(message).toMatch(new RegExp(`^invalid deployed configuration ${path}: not valid JSON: `));
    expect(message).not.toContain('\n');
  });

  it('refuses a bundled file that is JSON but not a valid configuration, naming the problem', () => {
    const path = file('{"pairs": []}');
    expect(rejection(() => loadDeployedConfig(path)).problems.map((p) => p.path)).toEqual(['pairs']);
  });
});
