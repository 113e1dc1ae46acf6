import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/run-scenario.ts';
import { scenarioOf } from './helpers.ts';

/**
 * The controller against the faults as real AWS and a real member show them: an SSM agent that falls silent
 * (SSM keeps it Online for minutes, commands wait undelivered), a daemon that hangs, an OS that hangs.
 */

const moves = (output: Awaited<ReturnType<typeof runScenario>>) =>
  output.events.filter((e) => e.type === 'failover');

describe('realistic member faults', () => {
  it('moves no traffic while the active member’s SSM agent is offline for twelve minutes, past the point SSM calls it ConnectionLost', async () => {
    const scenario = scenarioOf({
      duration: '16m',
      faults: [
        { at: '1m', target: 'branch-a/primary', fault: 'ssm-agent-offline' },
        { at: '13m', target: 'branch-a/primary', fault: 'ssm-agent-online' },
      ],
    });

    const output = await runScenario(scenario);

    expect(moves(output)).toEqual([]);
    expect(output.final.pairs['branch-a']?.active).toBe('primary');
  });

  it('fails over from a primary whose daemon hangs, on the probe’s "daemon not responding"', async () => {
    const scenario = scenarioOf({
      duration: '6m',
      faults: [{ at: '1m', target: 'branch-a/primary', fault: 'daemon-hang' }],
    });

    const output = await runScenario(scenario);

    const [move, ...others] = moves(output);
    expect(others).toEqual([]);
    expect(move).toMatchObject({ from: 'primary', to: 'standby', trigger: 'soft-failure' });
    expect(JSON.stringify(move)).toContain('daemon not responding');
  });
});
