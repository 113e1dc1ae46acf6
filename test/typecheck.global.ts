import { spawn } from 'node:child_process';

/**
 * `npm test` typechecks while the tests run, not before them: tsc takes one core for a few seconds, and the
 * suite's first seconds (starting workers, importing) leave it room. The result is awaited when the tests
 * end: a type error prints tsc's report and fails the run. Only when VPN_FAILOVER_TYPECHECK=1 (the `test`
 * script), so running one test file does not typecheck the project.
 */
export default function typecheckBesideTheTests(): (() => Promise<void>) | undefined {
  if (process.env.VPN_FAILOVER_TYPECHECK !== '1') return undefined;
  const tsc = spawn('tsc', ['-p', 'tsconfig.json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let report = '';
  tsc.stdout.on('data', (chunk) => {
    report += chunk;
  });
  tsc.stderr.on('data', (chunk) => {
    report += chunk;
  });
  const done = new Promise<number | null>((resolve, reject) => {
    tsc.once('error', reject);
    tsc.once('close', resolve);
  });
  return async () => {
    const status = await done;
    if (status !== 0) {
      process.stderr.write(report);
      throw new Error(`typecheck failed (tsc -p tsconfig.json exited ${status})`);
    }
  };
}
