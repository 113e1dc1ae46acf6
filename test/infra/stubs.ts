import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Run a shell script with fake commands on PATH, the way the instance runs it, and record what the fakes were
 * asked to do. A helper for the infra tests, not a test file.
 */

/** Fake commands: name → sh script body. Each fake appends its argv to calls.log. */
export type Fakes = Record<string, string>;

/** The outcome of one run. */
export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** one line per fake invocation: "name arg1 arg2 …" */
  readonly calls: string[];
}

/** Run `script` with `interpreter` (sh or bash), only the given fakes plus the system's basic tools on PATH. */
export function runWithFakes(
  interpreter: 'sh' | 'bash',
  script: string,
  fakes: Fakes,
  env: Record<string, string> = {},
): Run {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-failover-fakes-'));
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  for (const [name, body] of Object.entries(fakes)) {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\necho "${name} $*" >> '${log}'\n${body}\n`);
    chmodSync(file, 0o755);
  }
  const scriptFile = join(dir, 'script');
  writeFileSync(scriptFile, script);
  const result = spawnSync(interpreter, [scriptFile], {
    encoding: 'utf8',
    env: { PATH: `${dir}:/usr/bin:/bin`, ...env },
  });
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    calls: readFileSync(log, 'utf8')
      .split('\n')
      .filter((line) => line !== ''),
  };
}
