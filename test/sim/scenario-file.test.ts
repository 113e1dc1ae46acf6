import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../shared/errors.ts';
import { runScenario } from '../../sim/run-scenario.ts';
import { loadScenarioFile, parseScenario } from '../../sim/scenario.ts';
import { renderRun } from '../../sim/timeline.ts';

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

const problemsOf = (document: unknown): Record<string, string> => {
  try {
    parseScenario(document);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return Object.fromEntries((error as InputError).problems.map((p) => [p.path, p.message]));
  }
  throw new Error('expected the scenario to be rejected');
};

describe('a scenario file', () => {
  it('is read with its durations in seconds and its targets split into pair and member', () => {
    const scenario = parseScenario({
      name: 'x',
      config,
      duration: '20m',
      faults: [
        { at: '90s', target: 'branch-a/primary', fault: 'daemon-down' },
        { at: 120, target: '*', fault: 'api-throttling', rate: 0.3, for: '2m' },
      ],
      commands: [{ at: '12m', command: 'failover', pair: 'branch-a', to: 'primary' }],
    });

    expect(scenario.duration).toBe(1200);
    expect(scenario.faults).toEqual([
      { at: 90, target: { pair: 'branch-a', role: 'primary' }, fault: 'daemon-down' },
      { at: 120, target: '*', fault: 'api-throttling', rate: 0.3, for: 120 },
    ]);
    expect(scenario.commands).toEqual([{ at: 720, command: 'failover', pair: 'branch-a', to: 'primary' }]);
    expect(scenario.config.pairs[0]?.cooldown).toBe(300);
  });

  it('lists every problem with its path, configuration problems under config.', () => {
    const problems = problemsOf({
      name: 'broken',
      config: { ...config, pairs: [{ ...config.pairs[0], standby: { instanceId: 'x' } }] },
      duration: 'soon',
      faults: [
        { at: '1m', target: 'branch-a', fault: 'daemon-down' },
        { at: '2m', target: '*', fault: 'api-throttling' },
        { at: '3m', target: 'branch-a/primary', fault: 'meteor' },
      ],
      commands: [{ at: '4m', command: 'failover', pair: 'branch-a' }],
    });

    expect(problems).toEqual({
      duration: 'expected a duration like "90s", "2m" or "1h" (got "soon")',
      'faults[0].target': 'expected PAIR/primary, PAIR/standby, */primary or */standby (got "branch-a")',
      'faults[1].rate': 'api-throttling needs a rate from 0 to 1',
      'faults[1].for': 'api-throttling needs a duration (for: 2m)',
      'faults[2].fault': expect.stringContaining('expected one of stop, start, terminate'),
      'commands[0].to': 'failover needs to: primary or standby',
      'config.pairs[0].standby.instanceId': 'expected i-… (got "x")',
    });
  });

  it('reads the fault kinds of the second version: daemon-hang, os-hang and os-recover on a member', () => {
    const scenario = parseScenario({
      name: 'x',
      config,
      faults: [
        { at: '1m', target: 'branch-a/primary', fault: 'daemon-hang' },
        { at: '2m', target: 'branch-a/standby', fault: 'os-hang' },
        { at: '3m', target: '*/standby', fault: 'os-recover' },
      ],
    });

    expect(scenario.faults.map((f) => [f.at, f.fault])).toEqual([
      [60, 'daemon-hang'],
      [120, 'os-hang'],
      [180, 'os-recover'],
    ]);
  });

  it('rejects a misspelt fault kind naming the value, every allowed kind (the new ones included) and the one meant', () => {
    const problems = problemsOf({
      name: 'x',
      config,
      faults: [{ at: '1m', target: 'branch-a/primary', fault: 'os-hung' }],
    });

    expect(problems['faults[0].fault']).toMatch(
      /^expected one of stop, start, terminate, .* \(got "os-hung"\); did you mean "os-hang"\?$/,
    );
    expect(problems['faults[0].fault']).toContain('daemon-hang, os-hang, os-recover');
  });

  it('rejects os-hang and daemon-hang on every pair at once (*), with rate or for', () => {
    const problems = problemsOf({
      name: 'x',
      config,
      faults: [
        { at: '1m', target: '*', fault: 'os-hang' },
        { at: '2m', target: 'branch-a/primary', fault: 'daemon-hang', rate: 0.5, for: '1m' },
      ],
    });

    expect(problems).toEqual({
      'faults[0].target':
        'expected PAIR/primary, PAIR/standby, */primary or */standby (got "*"); * is for api-throttling only',
      'faults[1].rate': 'rate is for api-throttling only',
      'faults[1].for': 'for is for api-throttling and scheduled-retirement only',
    });
  });

  it('rejects targets and commands naming a pair the configuration does not have, and times after the end', () => {
    const problems = problemsOf({
      name: 'x',
      config,
      duration: '10m',
      faults: [{ at: '11m', target: 'branch-b/standby', fault: 'stop' }],
      commands: [{ at: '1m', command: 'resize', pair: 'branch-c', instanceType: 'c6in.xlarge' }],
    });

    expect(problems).toEqual({
      'faults[0].target': 'unknown pair "branch-b" (configured: branch-a)',
      'faults[0].at': '660s is after the scenario ends (600s)',
      'commands[0].pair': 'unknown pair "branch-c" (configured: branch-a)',
    });
  });

  it('reads */primary and */standby as that member of every pair', () => {
    const scenario = parseScenario({
      name: 'zone loss',
      config,
      faults: [
        { at: '2m', target: '*/primary', fault: 'stop' },
        { at: '3m', target: '*/standby', fault: 'api-throttling', rate: 0.5, for: '1m' },
      ],
    });

    expect(scenario.faults).toEqual([
      { at: 120, target: { pair: '*', role: 'primary' }, fault: 'stop' },
      { at: 180, target: { pair: '*', role: 'standby' }, fault: 'api-throttling', rate: 0.5, for: 60 },
    ]);
  });

  it('rejects a target of every pair without a member', () => {
    expect(problemsOf({ name: 'x', config, faults: [{ at: 1, target: '*/', fault: 'stop' }] })).toEqual({
      'faults[0].target': 'expected PAIR/primary, PAIR/standby, */primary or */standby (got "*/")',
    });
  });

  it('needs a configuration, inline or as a file, but not both', () => {
    expect(problemsOf({ name: 'x' })).toEqual({
      config: 'expected a configuration (config: {...}) or configFile: PATH',
    });
    expect(problemsOf({ name: 'x', config, configFile: 'pairs.yaml' })).toEqual({
      configFile: 'give either config or configFile, not both',
    });
  });

  it('reads configFile relative to the scenario file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scenario-'));
    writeFileSync(join(dir, 'pairs.json'), JSON.stringify(config));
    writeFileSync(join(dir, 'scenario.yaml'), 'name: from a file\nconfigFile: pairs.json\nduration: 5m\n');

    const scenario = loadScenarioFile(join(dir, 'scenario.yaml'));

    expect(scenario.name).toBe('from a file');
    expect(scenario.config.pairs[0]?.name).toBe('branch-a');
    expect(scenario.duration).toBe(300);
  });

  it('reports a configFile that cannot be read at configFile', () => {
    const problems = problemsOf({ name: 'x', configFile: '/nonexistent/pairs.yaml' });

    expect(Object.keys(problems)).toEqual(['configFile']);
    expect(problems.configFile).toContain('cannot read /nonexistent/pairs.yaml');
  });
});

describe('a scenario with the second version’s faults', () => {
  it('moves traffic off a primary whose OS hangs although EC2 still shows it running, and labels both faults on the timeline', async () => {
    const scenario = parseScenario({
      name: 'os hang',
      config: { pairs: [{ ...config.pairs[0], probe: { kind: 'strongswan', minSas: 1 } }] },
      duration: '12m',
      faults: [
        { at: '2m', target: 'branch-a/primary', fault: 'os-hang' },
        { at: '8m', target: 'branch-a/primary', fault: 'os-recover' },
      ],
    });

    const output = await runScenario(scenario);

    const faults = output.events.filter((e) => e.type === 'fault').map((e) => ('fault' in e ? e.fault : ''));
    expect(faults).toEqual(['os-hang', 'os-recover']);
    expect(output.final.pairs['branch-a']).toMatchObject({
      active: 'standby',
      members: { primary: { state: 'running' }, standby: { state: 'running' } },
    });
    const timeline = renderRun(scenario, output);
    expect(timeline).toMatch(/02:00 {2}FAULT +branch-a\/primary os-hang/);
    expect(timeline).toMatch(/08:00 {2}FAULT +branch-a\/primary os-recover/);
    expect(timeline).toMatch(/branch-a\/primary os-hang: failover branch-a primary -> standby/);
  });
});

describe('a zone-wide fault', () => {
  it('stops the primary of every pair at the same instant, and every pair ends on its standby', async () => {
    // Prepare: three pairs; every primary stops at 2m.
    const pair = (n: number) => ({
      name: `branch-${n}`,
      primary: { instanceId: `i-0${n}23456789abcdef0` },
      standby: { instanceId: `i-0${n}edcba9876543210` },
      routeTables: [`rtb-0${n}1b2c3d4e5f60718`],
      destinations: ['10.50.0.0/16', '192.168.10.0/24'],
    });
    const scenario = parseScenario({
      name: 'zone loss',
      config: { pairs: [pair(1), pair(2), pair(3)] },
      duration: '6m',
      faults: [{ at: '2m', target: '*/primary', fault: 'stop' }],
    });

    // Act
    const output = await runScenario(scenario);

    // Assess
    const stopping = output.events.filter(
      (e) => e.type === 'state-change' && e.to === 'stopping' && e.target.endsWith('/primary'),
    );
    expect(stopping.map((e) => [e.t, 'target' in e ? e.target : ''])).toEqual([
      [120, 'branch-1/primary'],
      [120, 'branch-2/primary'],
      [120, 'branch-3/primary'],
    ]);
    for (const name of ['branch-1', 'branch-2', 'branch-3']) {
      expect(output.final.pairs[name]).toMatchObject({
        active: 'standby',
        members: { primary: { state: 'stopped' }, standby: { state: 'running' } },
      });
    }
  });
});
