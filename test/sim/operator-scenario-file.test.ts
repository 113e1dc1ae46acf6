import { describe, expect, it } from 'vitest';
import { InputError } from '../../shared/errors.ts';
import { parseScenario } from '../../sim/scenario.ts';

const config = {
  pairs: [
    {
      name: 'branch-a',
      primary: { instanceId: 'i-0123456789abcdef0' },
      standby: { instanceId: 'i-0fedcba9876543210' },
      routeTables: ['rtb-0a1b2c3d4e5f60718'],
      destinations: ['10.50.0.0/16'],
    },
  ],
};

const problemsOf = (document: Record<string, unknown>): Record<string, string> => {
  try {
    parseScenario({ name: 'x', config, ...document });
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return Object.fromEntries((error as InputError).problems.map((p) => [p.path, p.message]));
  }
  throw new Error('expected the scenario to be rejected');
};

const FOREIGN = {
  at: '1m',
  target: 'branch-a',
  fault: 'foreign-route',
  routeTable: 'rtb-0a1b2c3d4e5f60718',
  destination: '10.50.0.0/16',
};

describe('scenario operator commands and the foreign-route fault', () => {
  it('reads pause (for in seconds, reason optional), resume and a forced failover', () => {
    const scenario = parseScenario({
      name: 'x',
      config,
      commands: [
        { at: '1m', command: 'pause', pair: 'branch-a', for: '2h', reason: 'upgrade' },
        { at: '2m', command: 'pause', pair: 'branch-a', for: 90 },
        { at: '3m', command: 'resume', pair: 'branch-a' },
        { at: '4m', command: 'failover', pair: 'branch-a', to: 'standby', force: true },
      ],
    });

    expect(scenario.commands).toEqual([
      { at: 60, command: 'pause', pair: 'branch-a', for: 7200, reason: 'upgrade' },
      { at: 120, command: 'pause', pair: 'branch-a', for: 90 },
      { at: 180, command: 'resume', pair: 'branch-a' },
      { at: 240, command: 'failover', pair: 'branch-a', to: 'standby', force: true },
    ]);
  });

  it('rejects a pause without a duration, or shorter than a minute or longer than 7 days, and fields of other commands', () => {
    const problems = problemsOf({
      commands: [
        { at: '1m', command: 'pause', pair: 'branch-a' },
        { at: '1m', command: 'pause', pair: 'branch-a', for: '30s' },
        { at: '1m', command: 'pause', pair: 'branch-a', for: '8d' },
        { at: '1m', command: 'pause', pair: 'branch-a', for: '1h', to: 'standby' },
        { at: '1m', command: 'resume', pair: 'branch-a', reason: 'done' },
        { at: '1m', command: 'pause', pair: 'branch-a', for: '1h', reason: 'two\nlines' },
        { at: '1m', command: 'failover', pair: 'branch-a', to: 'primary', for: '1h' },
      ],
    });

    expect(problems).toEqual({
      'commands[0].for': 'pause needs a duration (for: 2h)',
      'commands[1].for': 'expected a pause from 1m to 7d (got "30s")',
      'commands[2].for': 'expected a pause from 1m to 7d (got "8d")',
      'commands[3].to': 'to is for failover only',
      'commands[4].reason': 'reason is for pause only',
      'commands[5].reason':
        'expected printable characters only (no tabs, newlines or other control characters)',
      'commands[6].for': 'for is for pause only',
    });
  });

  it('names the command meant when it is misspelt', () => {
    const problems = problemsOf({ commands: [{ at: '1m', command: 'puase', pair: 'branch-a' }] });
    expect(problems['commands[0].command']).toBe(
      'expected failover, resize, pause or resume (got "puase"); did you mean "pause"?',
    );
  });

  it('reads foreign-route aimed at a pair and one of its managed routes', () => {
    const scenario = parseScenario({ name: 'x', config, faults: [FOREIGN] });
    expect(scenario.faults).toEqual([
      {
        at: 60,
        target: { pair: 'branch-a' },
        fault: 'foreign-route',
        routeTable: 'rtb-0a1b2c3d4e5f60718',
        destination: '10.50.0.0/16',
      },
    ]);
  });

  it('rejects foreign-route on a route the pair does not manage', () => {
    const problems = problemsOf({
      faults: [{ ...FOREIGN, routeTable: 'rtb-0000000000000000f', destination: '10.60.0.0/16' }],
    });
    expect(problems).toEqual({
      'faults[0].routeTable': `expected one of branch-a's route tables, rtb-0a1b2c3d4e5f60718 (got "rtb-0000000000000000f")`,
      'faults[0].destination': `expected one of branch-a's destinations, 10.50.0.0/16 (got "10.60.0.0/16")`,
    });
  });

  it('rejects foreign-route on a member or without its route, and its fields on other faults', () => {
    const problems = problemsOf({
      faults: [
        { ...FOREIGN, target: 'branch-a/primary' },
        { at: '1m', target: 'branch-a', fault: 'foreign-route', for: '1m' },
        { at: '1m', target: 'branch-a/primary', fault: 'stop', routeTable: 'rtb-0a1b2c3d4e5f60718' },
      ],
    });

    expect(problems).toEqual({
      'faults[0].target': `foreign-route is aimed at a pair's route: expected PAIR (got "branch-a/primary")`,
      'faults[1].routeTable': "foreign-route needs the routeTable of one of the pair's managed routes",
      'faults[1].destination': "foreign-route needs the destination of one of the pair's managed routes",
      'faults[1].for': 'for is not for foreign-route',
      'faults[2].routeTable': 'routeTable is for foreign-route only',
    });
  });

  it('rejects foreign-route on a pair the configuration does not have', () => {
    expect(problemsOf({ faults: [{ ...FOREIGN, target: 'branch-b' }] })).toEqual({
      'faults[0].target': 'unknown pair "branch-b" (configured: branch-a)',
    });
  });
});
