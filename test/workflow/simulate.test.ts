import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/run-scenario.ts';
import { parseScenario } from '../../sim/scenario.ts';
import { PAIR } from './harness.ts';

describe('vpn-failover simulate with a resize command', () => {
  it('runs the resize workflow and reports its stages in the event log', async () => {
    // Prepare: a scenario file as a user writes it (docs/simulator.md#scenario-files).
    const scenario = parseScenario(
      {
        name: 'resize the example pair',
        configFile: 'examples/pairs.yaml',
        duration: '20m',
        commands: [{ at: '1m', command: 'resize', pair: PAIR, instanceType: 'c6in.2xlarge' }],
      },
      { baseDir: process.cwd() },
    );

    // Act: the default command handlers, as `vpn-failover simulate` runs them.
    const output = await runScenario(scenario);

    // Assess
    const stages = output.events.flatMap((e) => (e.type === 'resize-stage' ? [e.stage] : []));
    expect(stages[0]).toBe('started');
    expect(stages).toContain('Resize standby: set type');
    expect(stages).toContain('Fail over to standby');
    expect(stages).toContain('Fail back');
    expect(stages.at(-1)).toBe('succeeded');
    expect(output.final.pairs[PAIR]?.members).toEqual({
      primary: { state: 'running', instanceType: 'c6in.2xlarge' },
      standby: { state: 'running', instanceType: 'c6in.2xlarge' },
    });
    expect(output.final.pairs[PAIR]?.active).toBe('primary');
    expect(output.events.filter((e) => e.type === 'error')).toEqual([]);
  });
});
