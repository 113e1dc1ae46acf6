import { benchAgentFailoverLatency } from './agent-latency.ts';
import { benchFailoverLatency } from './failover-latency.ts';
import { benchLambdaPackage } from './lambda-package.ts';
import { benchResize } from './resize.ts';
import { benchSimTick } from './sim-tick.ts';
import { benchSteadyTick } from './steady-tick.ts';
import { benchZoneLoss } from './zone-loss.ts';

/**
 * `npm run bench`: figures, not pass/fail. BENCH_ONLY=TEXT runs only the sections whose name contains TEXT
 * (`BENCH_ONLY="member agent" npm run bench`).
 */
const sections: Array<[string, () => Promise<string>]> = [
  ['steady tick', () => benchSteadyTick()],
  ['steady tick in the simulated account', () => benchSimTick()],
  ['failover latency', () => benchFailoverLatency()],
  ['failover latency with the member agent', () => benchAgentFailoverLatency()],
  ['zone-wide loss', () => benchZoneLoss()],
  ['resize', () => benchResize()],
  ['lambda package', () => benchLambdaPackage()],
];

console.log(
  `npm run bench (node bench/run.ts; LOG_LEVEL=silent AWS_REGION=${process.env.AWS_REGION ?? 'unset'}), Node ${process.version}\n`,
);
const only = process.env.BENCH_ONLY;
for (const [name, run] of sections) {
  if (only !== undefined && !name.includes(only)) continue;
  const started = performance.now();
  console.log(await run());
  console.log(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
