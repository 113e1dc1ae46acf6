import { join, relative } from 'node:path';
import { runScenario } from './run-scenario.ts';
import { loadScenarioFile } from './scenario.ts';
import { renderRun } from './timeline.ts';

/**
 * `npm start`: the built-in scenario (examples/scenarios/demo.yaml) on the example configuration
 * (examples/pairs.yaml), run against the simulated account and printed as a timeline with a summary. No AWS
 * account is needed: the real controller runs against simulated EC2, SSM and CloudWatch and a local DynamoDB.
 */

const scenarioPath = join(import.meta.dirname, '..', 'examples', 'scenarios', 'demo.yaml');
const scenario = loadScenarioFile(scenarioPath);
const started = performance.now();
const output = await runScenario(scenario);
const wall = (performance.now() - started) / 1000;
process.stdout.write(renderRun(scenario, output));
process.stdout.write(
  `\n${Math.round(output.duration / 60)} virtual minutes in ${wall.toFixed(2)} s of real time. ` +
    `Try your own: npm run vpn-failover -- simulate --scenario ${relative(process.cwd(), scenarioPath)}\n`,
);
