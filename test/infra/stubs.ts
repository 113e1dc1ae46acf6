import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Run a shell script with fake commands on PATH, the way the instance runs it, and record what the fakes were
 * asked to do. A helper for the infra tests, not a test file.
 */

/**
 * Fake commands: name → sh script body. Each fake appends its argv to calls.log. A fake may keep state or
 * leave files in the directory named by $FAKES_DIR (the fakes' own directory); the run returns those files.
 */
export type Fakes = Record<string, string>;

/** The outcome of one run. */
export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** one line per fake invocation: "name arg1 arg2 …" */
  readonly calls: string[];
  /** the files the fakes left in $FAKES_DIR: name → content */
  readonly files: Readonly<Record<string, string>>;
}

/** Nothing a test runs should take this long; past it the script is killed and the test fails on its status. */
const RUN_LIMIT_MS = 20_000;

/** A directory holding the fakes and the script, and how to read back what happened there. */
function prepare(script: string, fakes: Fakes) {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-failover-fakes-'));
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  for (const [name, body] of Object.entries(fakes)) {
    const file = join(dir, name);
    // printf, not echo: dash's echo would turn backslashes in an argument into escapes
    writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> '${log}'\n${body}\n`);
    chmodSync(file, 0o755);
  }
  const scriptFile = join(dir, 'script');
  writeFileSync(scriptFile, script);
  const own = new Set([...Object.keys(fakes), 'calls.log', 'script']);
  return {
    dir,
    scriptFile,
    env: (env: Record<string, string>) => ({ PATH: `${dir}:/usr/bin:/bin`, FAKES_DIR: dir, ...env }),
    /** what the fakes recorded and left, then the directory removed */
    collect(status: number | null, stdout: string, stderr: string): Run {
      try {
        const files = Object.fromEntries(
          readdirSync(dir)
            .filter((name) => !own.has(name))
            .map((name) => [name, readFileSync(join(dir, name), 'utf8')]),
        );
        const calls = readFileSync(log, 'utf8')
          .split('\n')
          .filter((line) => line !== '');
        return { status, stdout, stderr, calls, files };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Run `script` with `interpreter` (sh or bash), only the given fakes plus the system's basic tools on PATH. */
export function runWithFakes(
  interpreter: 'sh' | 'bash',
  script: string,
  fakes: Fakes,
  env: Record<string, string> = {},
): Run {
  const run = prepare(script, fakes);
  const result = spawnSync(interpreter, [run.scriptFile], {
    encoding: 'utf8',
    env: run.env(env),
    timeout: RUN_LIMIT_MS,
    killSignal: 'SIGKILL',
  });
  return run.collect(result.status, result.stdout, result.stderr);
}

/**
 * runWithFakes without blocking: for scripts that mostly sleep (the agent's loop), so several can run at once.
 */
export function runWithFakesAsync(
  interpreter: 'sh' | 'bash',
  script: string,
  fakes: Fakes,
  env: Record<string, string> = {},
): Promise<Run> {
  const run = prepare(script, fakes);
  return new Promise((resolve, reject) => {
    execFile(
      interpreter,
      [run.scriptFile],
      { encoding: 'utf8', env: run.env(env), timeout: RUN_LIMIT_MS, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        try {
          resolve(run.collect(status, stdout, stderr));
        } catch (failure) {
          reject(failure);
        }
      },
    );
  });
}

/** A fake that prints `output` when called with exactly `args`, and fails otherwise. */
export const printing = (args: string, output: string, status = 0): string =>
  `[ "$*" = "${args}" ] || exit 2\ncat <<'OUT'\n${output}\nOUT\nexit ${status}`;

/** A daemon command that never answers. */
export const HANGING = 'sleep 30';

const IKE_SA = `office: #1, ESTABLISHED, IKEv2, 8fb1fd1a2b8fca24_i* 2a6f1cc2cf0f7ba1_r
  local  'vpn-a' @ 10.0.1.10[4500]
  remote 'branch' @ 198.51.100.7[4500]
  AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048
  established 2s ago, rekeying in 14150s`;

const childSa = (
  name: string,
  id: number,
) => `  ${name}: #${id}, reqid ${id}, INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-256
    installed 2s ago, rekeying in 3305s, expires in 3958s
    in  c8ca0e3${id},      0 bytes,     0 packets
    out c1a2cd8${id},      0 bytes,     0 packets
    local  10.0.0.0/16
    remote 10.50.${id}.0/24`;

/** `swanctl --list-sas` of strongSwan with one IKE SA and the given CHILD SAs. */
export const swanctl = (children: number): string =>
  printing(
    '--list-sas',
    [IKE_SA, ...Array.from({ length: children }, (_, i) => childSa(`net-${i + 1}`, i + 1))].join('\n'),
  );

/**
 * A fake that behaves as `steps[0]` on its first call, `steps[1]` on its second, and so on, and as the last
 * step from then on: a daemon whose state changes between checks. Counts its calls in $FAKES_DIR/NAME.count.
 */
export const sequence = (name: string, steps: readonly string[]): string => {
  const arms = steps.slice(0, -1).map((step, i) => `${i + 1})\n${step}\n;;`);
  return `n=$(( $(cat "$FAKES_DIR/${name}.count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$FAKES_DIR/${name}.count"
case $n in
${[...arms, `*)\n${steps.at(-1) ?? ''}\n;;`].join('\n')}
esac`;
};
