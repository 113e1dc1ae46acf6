import { describe, expect, it } from 'vitest';
import type { SimEvent, SimulateOutput } from '../../sim/output.ts';
import { runScenario } from '../../sim/run-scenario.ts';
import { timelineLines } from '../../sim/timeline.ts';
import { POLL_ONLY, pairConfig, scenarioOf } from './helpers.ts';

/**
 * Scenario runs with the member agent (on by default): its change report triggers the controller, whose own probe
 * confirms it, so a soft failure moves in seconds in economy mode; its silence is never evidence.
 */

const of = <T extends SimEvent['type']>(output: SimulateOutput, type: T) =>
  output.events.filter((e): e is Extract<SimEvent, { type: T }> => e.type === type);

const FAULT_AT = 125;

describe('economy mode with the member agent', () => {
  it('moves traffic off a dead daemon seconds after the fault: the agent reports it, the run it triggers probes and confirms it', async () => {
    const faults = [{ at: `${FAULT_AT}s`, target: 'branch-a/primary', fault: 'daemon-down' }];

    const output = await runScenario(scenarioOf({ duration: '5m', faults }), { verbose: true });

    const [report] = of(output, 'agent-report');
    expect(report).toMatchObject({ pair: 'branch-a', member: 'primary', verdict: 'unhealthy' });
    const [failover] = of(output, 'failover');
    expect(failover).toMatchObject({ from: 'primary', to: 'standby', trigger: 'soft-failure' });
    expect((failover?.t ?? Infinity) - FAULT_AT).toBeLessThan(15);
    expect(failover?.reason).toContain('agent report');
    const decided = of(output, 'decision').find((d) => d.plan === 'failover' && d.t === failover?.t);
    expect(decided?.trigger).toBe('agent-report');
    expect(
      of(output, 'route-change')
        .filter((r) => r.to === 'standby')
        .every((r) => r.t - FAULT_AT < 15),
    ).toBe(true);
  });

  it('takes the polling path without the agent: the same fault is not moved within 15 s', async () => {
    const faults = [{ at: `${FAULT_AT}s`, target: 'branch-a/primary', fault: 'daemon-down' }];

    const output = await runScenario(scenarioOf({ duration: '5m', faults }, pairConfig({}, POLL_ONLY)));

    expect(of(output, 'agent-report')).toEqual([]);
    const [failover] = of(output, 'failover');
    expect((failover?.t ?? Infinity) - FAULT_AT).toBeGreaterThan(15);
  });

  it('moves nothing when the active member’s agent stops; the controller raises agent-silent about three minutes later and clears it once the agent is back', async () => {
    const output = await runScenario(
      scenarioOf({
        duration: '10m',
        faults: [
          { at: '1m', target: 'branch-a/primary', fault: 'agent-stop' },
          { at: '7m', target: 'branch-a/primary', fault: 'agent-start' },
        ],
      }),
    );

    expect(of(output, 'failover')).toEqual([]);
    expect(of(output, 'route-change')).toEqual([]);
    const [silent] = of(output, 'alarm').filter((a) => a.alarm === 'agent-silent');
    expect(silent?.pair).toBe('branch-a');
    // The last report was written up to a heartbeat before the stop; silence counts from it.
    expect(silent?.t).toBeGreaterThan(60 + 120);
    expect(silent?.t).toBeLessThan(60 + 180 + 65);
    const cleared = of(output, 'alarm-cleared').find((a) => a.alarm === 'agent-silent');
    expect(cleared?.t).toBeGreaterThan(420);
    expect(cleared?.t).toBeLessThan(420 + 70);
  });

  it('still moves traffic by polling when the daemon dies on a member whose agent has stopped', async () => {
    const output = await runScenario(
      scenarioOf({
        duration: '6m',
        faults: [
          { at: '1m', target: 'branch-a/primary', fault: 'agent-stop' },
          { at: `${FAULT_AT}s`, target: 'branch-a/primary', fault: 'daemon-down' },
        ],
      }),
      { verbose: true },
    );

    expect(of(output, 'agent-report')).toEqual([]);
    const [failover] = of(output, 'failover');
    expect(failover).toMatchObject({ from: 'primary', to: 'standby', trigger: 'soft-failure' });
    expect((failover?.t ?? Infinity) - FAULT_AT).toBeLessThanOrEqual(2 * 60 + 20);
    const decided = of(output, 'decision').find((d) => d.plan === 'failover' && d.t === failover?.t);
    expect(decided?.trigger).not.toBe('agent-report');
  });

  it('lists one short AGENT line per change the agent reports, never its heartbeats', async () => {
    const scenario = scenarioOf({
      duration: '15m',
      faults: [
        { at: '2m', target: 'branch-a/primary', fault: 'daemon-down' },
        { at: '9m', target: 'branch-a/primary', fault: 'daemon-up' },
      ],
    });

    const output = await runScenario(scenario);

    expect(of(output, 'agent-report').map((r) => [r.member, r.verdict])).toEqual([
      ['primary', 'unhealthy'],
      ['primary', 'healthy'],
    ]);
    const agentLines = timelineLines(output.events, 200).filter((line) => line.includes(' AGENT '));
    expect(agentLines).toHaveLength(2);
    expect(agentLines[0]).toMatch(
      /^ {2}02:0\d {2}AGENT +branch-a\/primary unhealthy: 0 installed CHILD SAs, 0 IKE SAs established \(at least 1 required\)$/,
    );
    expect(agentLines[1]).toMatch(
      /AGENT +branch-a\/primary healthy: 2 installed CHILD SAs \(at least 1 required\)$/,
    );
  });
});
