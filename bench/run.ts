import { benchFailoverLatency } from './failover-latency.ts';
import { benchResize } from './resize.ts';
import { benchSimTick } from './sim-tick.ts';
import { benchSteadyTick } from './steady-tick.ts';
import { benchZoneLoss } from './zone-loss.ts';

/** `npm run bench`: figures, not pass/fail. */
const sections: Array<[string, () => Promise<string>]> = [
  ['steady tick', () => benchSteadyTick()],
  ['steady tick in the simulated account', () => benchSimTick()],
  ['failover latency', () => benchFailoverLatency()],
  ['zone-wide loss', () => benchZoneLoss()],
  ['resize', () => benchResize()],
];

console.log(
  `npm run bench (node bench/run.ts; LOG_LEVEL=silent AWS_REGION=${process.env.AWS_REGION ?? 'unset'}), Node ${process.version}\n`,
);
for (const [name, run] of sections) {
  const started = performance.now();
  console.log(await run());
  console.log(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
