import { benchSteadyTick } from './steady-tick.ts';

/** `npm run bench`: figures, not pass/fail. */
const sections: Array<[string, () => Promise<string>]> = [['steady tick', () => benchSteadyTick()]];

for (const [name, run] of sections) {
  const started = performance.now();
  console.log(await run());
  console.log(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
