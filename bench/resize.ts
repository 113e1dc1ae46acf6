import { loadConfigFile } from '../shared/config/file.ts';
import { DEFAULT_CONFIG_PATH } from '../shared/config/load.ts';
import { benchmarkResize } from '../sim/resize.ts';

/**
 * The zero-downtime resize on the simulated account: the state machine CDK synthesizes, every step running the
 * real step Lambda code, the controller on its schedule. Per seed: total duration, each switchover (decision to
 * last route moved) and seconds with any managed route on a member that is not running (must be 0).
 */
export async function benchResize(seeds: readonly number[] = [1, 2, 3, 4, 5]): Promise<string> {
  const config = loadConfigFile(DEFAULT_CONFIG_PATH);
  const rows: string[] = [];
  for (const seed of seeds) {
    const figures = await benchmarkResize(config, { seed, instanceType: 'c6in.xlarge' });
    const switchovers = figures.switchovers.map((s) => `${s.to} ${s.seconds.toFixed(1)}`).join(', ');
    rows.push(
      `${String(seed).padStart(4)} | ${(figures.totalSeconds ?? Number.NaN).toFixed(1).padStart(8)} | ${switchovers.padEnd(26)} | ${figures.secondsOnNonRunningMember}`,
    );
  }
  return [
    'Resize branch-a (examples/pairs.yaml) c6in.large -> c6in.xlarge on the simulated account, default latency model:',
    'seed |  total s | switchovers (to, s)        | s with a route on a non-running member',
    ...rows,
  ].join('\n');
}
