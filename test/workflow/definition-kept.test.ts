import { expect, it } from 'vitest';
import { synthesizeResizeStateMachine } from '../../sim/resize.ts';
import { ACCOUNT_ID } from '../../sim/world-model.ts';
import { exampleConfig, runResizeScenario } from './harness.ts';

/**
 * The simulator synthesizes the resize state machine once per configuration and hands the same definition to
 * every run; the local Step Functions engine rewrites the definition it is given, so each run must get its own
 * copy, or the next run (and any comparison with the template) sees a definition `cdk synth` never wrote.
 */
it('a resize run leaves the state machine definition the simulator synthesized unchanged for the next run', async () => {
  const environment = { region: 'eu-west-1', account: ACCOUNT_ID };
  const definition = synthesizeResizeStateMachine(exampleConfig(), environment).definition;
  const before = structuredClone(definition);

  const run = await runResizeScenario({ duration: 1200 });

  expect(run.executions).toHaveLength(1);
  expect(synthesizeResizeStateMachine(exampleConfig(), environment).definition).toEqual(before);
});
