import { describe, expect, it } from 'vitest';
import type { FinalPair, SimEvent, SimulateOutput } from '../../sim/output.ts';
import { runScenario } from '../../sim/run-scenario.ts';
import { loadScenarioFile, parseScenario } from '../../sim/scenario.ts';
import { renderRun, summaryLines, timelineLines } from '../../sim/timeline.ts';

const finalPair = (routes: { routeTable: string; destination: string }[]): FinalPair =>
  ({
    active: 'primary',
    routes: routes.map((r) => ({ ...r, to: 'primary', state: 'active' })),
    members: {
      primary: { state: 'running', instanceType: 'c6in.large' },
      standby: { state: 'running', instanceType: 'c6in.large' },
    },
    blackholeSeconds: 0,
  }) as FinalPair;

const outputOf = (events: SimEvent[], pairs: Record<string, FinalPair> = {}): SimulateOutput => ({
  scenario: 'layout',
  seed: 1,
  duration: 1200,
  events,
  final: { pairs },
  stats: { invocations: 0, apiCalls: {}, throttled: {} },
});

const LONG_REASON = `primary daemon unhealthy x2: ${'strongswan probe failed: 0 installed CHILD SAs; '.repeat(6)}end of reason`;

describe('the timeline as people read it', () => {
  it('shows a long reason whole, wrapped to the width asked for, continuation lines under the text', () => {
    const lines = timelineLines(
      [
        {
          t: 150,
          type: 'failover',
          pair: 'branch-a',
          from: 'primary',
          to: 'standby',
          kind: 'failover',
          trigger: 'soft-failure',
          reason: LONG_REASON,
        },
      ],
      80,
    );

    const move = lines.slice(1);
    expect(move.length).toBeGreaterThan(3);
    expect(move.every((line) => line.length <= 80)).toBe(true);
    const textColumn = (move[0] as string).indexOf('branch-a');
    expect(move.slice(1).every((line) => line.slice(0, textColumn).trim() === '')).toBe(true);
    expect(move.map((line) => line.trim()).join(' ')).toContain(LONG_REASON);
  });

  it('lists the routes of a move and of the final state in address order, 9.0.0.0/8 before 10.0.0.0/8', () => {
    const change = (t: number, destination: string): SimEvent => ({
      t,
      type: 'route-change',
      pair: 'branch-a',
      routeTable: 'rtb-0a1b2c3d4e5f60718',
      destination,
      from: 'primary',
      to: 'standby',
      action: 'replaced',
    });
    const output = outputOf([change(150, '10.0.0.0/8'), change(150.2, '9.0.0.0/8')], {
      'branch-a': finalPair([
        { routeTable: 'rtb-0a1b2c3d4e5f60718', destination: '10.0.0.0/8' },
        { routeTable: 'rtb-0a1b2c3d4e5f60718', destination: '9.0.0.0/8' },
      ]),
    });

    const [, routes] = timelineLines(output.events, 200);
    expect(routes).toContain(
      '2 routes -> standby: rtb-0a1b2c3d4e5f60718 9.0.0.0/8, rtb-0a1b2c3d4e5f60718 10.0.0.0/8',
    );
    const scenario = parseScenario({
      name: 'layout',
      config: {
        pairs: [
          {
            name: 'branch-a',
            primary: { instanceId: 'i-0123456789abcdef0' },
            standby: { instanceId: 'i-0fedcba9876543210' },
            routeTables: ['rtb-0a1b2c3d4e5f60718'],
            destinations: ['10.0.0.0/8', '9.0.0.0/8'],
          },
        ],
      },
    });
    const final = renderRun(scenario, output, 100).split('\n');
    const finalRoutes = final.filter((line) => line.startsWith('    rtb-'));
    expect(finalRoutes.map((line) => line.split(/\s+/)[2])).toEqual(['9.0.0.0/8', '10.0.0.0/8']);
  });

  it('lists the pairs of the final state and of the summary in name order', () => {
    const output = outputOf([], {
      'branch-b': finalPair([{ routeTable: 'rtb-0a1b2c3d4e5f60718', destination: '10.0.0.0/8' }]),
      'branch-a': finalPair([{ routeTable: 'rtb-0a1b2c3d4e5f60719', destination: '10.0.0.0/8' }]),
    });

    expect(summaryLines(output).slice(-2)).toEqual([
      '  branch-a: no route blackholed',
      '  branch-b: no route blackholed',
    ]);
  });

  it('lists the moves of the summary in the order of the times it shows for them', () => {
    const move = (t: number, pair: string): SimEvent => ({
      t,
      type: 'failover',
      pair,
      from: 'primary',
      to: 'standby',
      kind: 'failover',
      trigger: 'soft-failure',
      reason: 'primary daemon unhealthy x2',
    });
    // branch-a's daemon went first but was confirmed later than branch-b's stopped instance.
    const output = outputOf([
      { t: 120, type: 'fault', target: 'branch-a/primary', fault: 'daemon-down' },
      { t: 130, type: 'fault', target: 'branch-b/primary', fault: 'stop' },
      move(135, 'branch-b'),
      move(150, 'branch-a'),
    ]);

    expect(
      summaryLines(output, 200)
        .slice(0, 2)
        .map((line) => line.slice(0, 24)),
    ).toEqual(['  02:00 branch-a/primary', '  02:10 branch-b/primary']);
  });

  it('counts in the right number end to end: 1 route write, 1 route, 1 failover, 1 route change', async () => {
    const scenario = parseScenario({
      name: 'one route',
      duration: '6m',
      config: {
        pairs: [
          {
            name: 'branch-a',
            primary: { instanceId: 'i-0123456789abcdef0' },
            standby: { instanceId: 'i-0fedcba9876543210' },
            routeTables: ['rtb-0a1b2c3d4e5f60718'],
            destinations: ['10.50.0.0/16'],
          },
        ],
      },
      faults: [{ at: '2m', target: 'branch-a/primary', fault: 'stop' }],
    });

    const text = renderRun(scenario, await runScenario(scenario), 200);

    expect(text).toContain('branch-a (1 route table x 1 destination)');
    expect(text).toContain('; 1 route write to eni-');
    expect(text).toMatch(/ROUTES +branch-a 1 route -> standby/);
    expect(text).toContain('1 route on standby after');
    expect(text).toContain('  1 failover, 0 failbacks, 1 route change\n');
  });

  it('wraps the demo at 100 columns when the output is not a terminal', async () => {
    const scenario = loadScenarioFile('examples/scenarios/demo.yaml');

    const text = renderRun(scenario, await runScenario(scenario));

    expect(text.split('\n').every((line) => line.length <= 100)).toBe(true);
    expect(text).not.toContain('…');
  });
});
