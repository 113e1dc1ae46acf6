import { describe, expect, it } from 'vitest';
import type { SimEvent, SimulateOutput } from '../../sim/output.ts';
import { runScenario } from '../../sim/run-scenario.ts';
import { loadScenarioFile } from '../../sim/scenario.ts';
import { renderRun } from '../../sim/timeline.ts';
import { scenarioOf } from './helpers.ts';

const of = <T extends SimEvent['type']>(output: SimulateOutput, type: T) =>
  output.events.filter((e): e is Extract<SimEvent, { type: T }> => e.type === type);

const routesOn = (output: SimulateOutput) =>
  output.final.pairs['branch-a']?.routes.map((r) => r.to).sort() ?? [];

/** Run a scenario over the example pair; its output and its timeline at 200 columns. */
async function simulate(document: Record<string, unknown>) {
  const scenario = scenarioOf(document);
  const output = await runScenario(scenario);
  return { output, text: renderRun(scenario, output, 200) };
}

const DAEMON_DIES = { at: '2m', target: 'branch-a/primary', fault: 'daemon-down' };
const PAUSE = { at: '1m', command: 'pause', pair: 'branch-a', for: '2h', reason: 'firmware upgrade' };

describe('an operator pause in a scenario', () => {
  it('keeps a paused pair on its dead primary daemon, raising paused, and moves nothing', async () => {
    const { output } = await simulate({ faults: [DAEMON_DIES], commands: [PAUSE] });

    expect(of(output, 'failover')).toEqual([]);
    expect(of(output, 'route-change')).toEqual([]);
    expect(routesOn(output)).toEqual(['primary', 'primary', 'primary', 'primary']);
    const paused = of(output, 'alarm').find((a) => a.alarm === 'paused');
    expect(paused?.t).toBeGreaterThanOrEqual(60);
    expect(paused?.detail).toMatch(/paused by scenario until .*: firmware upgrade/);
    // Raised while it lasts. (A scheduled run that read the pair just before the pause was stored may clear it
    // once; the next evaluation raises it again.)
    const last = output.events.filter((e) => 'alarm' in e && e.alarm === 'paused').at(-1);
    expect(last?.type).toBe('alarm');
    expect(last?.t).toBeLessThan(200);
  });

  it('moves the pair once an operator resumes it', async () => {
    const { output } = await simulate({
      faults: [DAEMON_DIES],
      commands: [PAUSE, { at: '8m', command: 'resume', pair: 'branch-a' }],
    });

    const [failover] = of(output, 'failover');
    expect(failover).toMatchObject({ from: 'primary', to: 'standby', trigger: 'soft-failure' });
    // The resume's own run moves: the failure was counted all along.
    expect(failover?.t ?? Infinity).toBeGreaterThanOrEqual(480);
    expect(failover?.t ?? Infinity).toBeLessThan(480 + 15);
    expect(failover?.reason).toMatch(/^operator command: resume by scenario \(lifts: paused by scenario/);
    expect(of(output, 'alarm-cleared').map((a) => a.alarm)).toContain('paused');
    expect(routesOn(output)).toEqual(['standby', 'standby', 'standby', 'standby']);
  });

  it('moves the pair at the next evaluation after the pause runs out by itself', async () => {
    const { output } = await simulate({ faults: [DAEMON_DIES], commands: [{ ...PAUSE, for: '5m' }] });

    const [failover] = of(output, 'failover');
    expect(failover).toMatchObject({ from: 'primary', to: 'standby', trigger: 'soft-failure' });
    // Paused from about 1m for 5m: the first scheduled evaluation after 6m moves.
    expect(failover?.t ?? 0).toBeGreaterThan(360);
    expect(failover?.t ?? Infinity).toBeLessThan(360 + 75);
    expect(routesOn(output)).toEqual(['standby', 'standby', 'standby', 'standby']);
  });

  it('carries out an operator failover during a pause, forced or not', async () => {
    const { output, text } = await simulate({
      faults: [{ at: '3m', target: 'branch-a/primary', fault: 'daemon-down' }],
      commands: [
        PAUSE,
        { at: '2m', command: 'failover', pair: 'branch-a', to: 'standby' },
        { at: '5m', command: 'failover', pair: 'branch-a', to: 'primary', force: true },
      ],
    });

    const moves = of(output, 'failover').map((f) => `${f.to} ${f.trigger}`);
    expect(moves).toEqual(['standby manual', 'primary manual']);
    expect(of(output, 'failover')[1]?.reason).toMatch(/forced past: primary .* is unhealthy/);
    expect(routesOn(output)).toEqual(['primary', 'primary', 'primary', 'primary']);
    expect(text).toMatch(/OPERATOR +failover branch-a to primary \(forced\)/);
  });

  it('answers a refused operator failover in the timeline, not as an error', async () => {
    const { output, text } = await simulate({
      faults: [{ at: '1m', target: 'branch-a/standby', fault: 'daemon-down' }],
      commands: [{ at: '4m', command: 'failover', pair: 'branch-a', to: 'standby' }],
    });

    expect(of(output, 'error')).toEqual([]);
    const [refused] = of(output, 'refused');
    expect(refused).toMatchObject({ pair: 'branch-a', command: 'failover' });
    expect(refused?.reason).toMatch(/^refused failover of branch-a to standby: standby .* is unhealthy/);
    expect(text).toMatch(/REFUSED +failover branch-a: refused failover/);
  });

  it('shows the pause and the resume in the timeline', async () => {
    const { text } = await simulate({
      duration: '5m',
      commands: [PAUSE, { at: '3m', command: 'resume', pair: 'branch-a' }],
    });

    expect(text).toMatch(/01:00 +OPERATOR +pause branch-a for 120m: firmware upgrade/);
    expect(text).toMatch(/03:00 +OPERATOR +resume branch-a/);
    expect(text).toMatch(/ALARM +branch-a paused: automatic moves held: paused by scenario/);
    expect(text).toMatch(/CLEARED +branch-a paused/);
  });
});

describe('a route someone points outside the pair', () => {
  it('is alarmed as foreign-route and left alone, while the rest still fails over', async () => {
    const { output, text } = await simulate({
      faults: [
        {
          at: '1m',
          target: 'branch-a',
          fault: 'foreign-route',
          routeTable: 'rtb-0a1b2c3d4e5f60718',
          destination: '10.50.0.0/16',
        },
        { at: '4m', target: 'branch-a/primary', fault: 'daemon-down' },
      ],
    });

    const foreign = of(output, 'alarm').find((a) => a.alarm === 'foreign-route');
    expect(foreign?.detail).toMatch(
      /^rtb-0a1b2c3d4e5f60718 10\.50\.0\.0\/16 points at nat-0[0-9a-f]+, outside the pair: left alone/,
    );
    // Only the fault itself wrote that route; the failover moved the other three.
    const writes = of(output, 'route-change').filter(
      (r) => r.routeTable === 'rtb-0a1b2c3d4e5f60718' && r.destination === '10.50.0.0/16',
    );
    expect(writes.map((w) => w.to)).toEqual(['other']);
    expect(of(output, 'failover')).toHaveLength(1);
    expect(routesOn(output)).toEqual(['other', 'standby', 'standby', 'standby']);
    expect(text).toMatch(
      /FAULT +branch-a foreign-route rtb-0a1b2c3d4e5f60718 10\.50\.0\.0\/16 pointed outside the pair/,
    );
  });
});

describe('the example scenario files', () => {
  it('examples/scenarios/pause.yaml: a paused pair holds, then moves once resumed', async () => {
    const output = await runScenario(loadScenarioFile('examples/scenarios/pause.yaml'));
    const [failover] = of(output, 'failover');
    const resume = of(output, 'command').find((c) => c.command === 'resume');
    expect(failover?.t ?? 0).toBeGreaterThanOrEqual(resume?.t ?? Infinity);
    expect(of(output, 'alarm').some((a) => a.alarm === 'paused')).toBe(true);
  });

  it('examples/scenarios/foreign-route.yaml: the foreign route is alarmed and left alone', async () => {
    const output = await runScenario(loadScenarioFile('examples/scenarios/foreign-route.yaml'));
    expect(of(output, 'alarm').some((a) => a.alarm === 'foreign-route')).toBe(true);
    expect(of(output, 'route-change').filter((r) => r.from === 'other')).toEqual([]);
  });
});
