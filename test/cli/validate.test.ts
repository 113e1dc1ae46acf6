import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validate } from '../../cli/validate.ts';

function captured() {
  const out = { stdout: '', stderr: '', code: 0 };
  const io = {
    stdout: (text: string) => {
      out.stdout += text;
    },
    stderr: (text: string) => {
      out.stderr += text;
    },
    setExitCode: (code: number) => {
      out.code = code;
    },
  };
  return { out, io };
}

describe('vpn-failover validate', () => {
  it('summarises a valid configuration, counts in the right number, and exits 0', () => {
    const { out, io } = captured();
    validate({ config: 'examples/pairs.yaml' }, io);

    expect(out.code).toBe(0);
    expect(out.stdout).toContain('valid, 1 pair\n');
    expect(out.stdout).toMatch(/branch-a: i-0123456789abcdef0 \(primary\).*2 route tables x 2 destinations/);
  });

  it('prints the configuration with every default filled in for scripts', () => {
    const { out, io } = captured();
    validate({ config: 'examples/pairs.yaml', json: true }, io);

    expect(JSON.parse(out.stdout).pairs[0]).toMatchObject({ cooldown: 300, failbackAfter: 3 });
  });

  it('lists every problem with its path and exits 2', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vpn-failover-')), 'bad.yaml');
    writeFileSync(file, 'pairs:\n  - name: Bad\n    primary: { instanceId: x }\n');
    const { out, io } = captured();
    validate({ config: file }, io);

    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/pairs\[0\]\.name/);
    expect(out.stderr).toMatch(/pairs\[0\]\.primary\.instanceId: expected i-… \(got "x"\)/);
    expect(out.stderr).toMatch(/pairs\[0\]\.standby/);
    expect(out.stdout).toBe('');
  });
});
