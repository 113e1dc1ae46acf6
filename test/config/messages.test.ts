import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../shared/config/file.ts';
import { closest, parseConfig } from '../../shared/config/load.ts';
import { InputError } from '../../shared/errors.ts';
import { loadScenarioFile, parseScenario } from '../../sim/scenario.ts';

const pair = (overrides: Record<string, unknown> = {}) => ({
  name: 'branch-a',
  primary: { instanceId: 'i-0123456789abcdef0' },
  standby: { instanceId: 'i-0fedcba9876543210' },
  routeTables: ['rtb-0a1b2c3d4e5f60718'],
  destinations: ['10.50.0.0/16'],
  ...overrides,
});

/** The error a call throws, which must be an InputError. */
const rejection = (call: () => unknown): InputError => {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('expected the input to be rejected');
};

const problems = (call: () => unknown): string[] =>
  rejection(call).problems.map((p) => `${p.path}: ${p.message}`);

const file = (name: string, text: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'vpn-failover-')), name);
  writeFileSync(path, text);
  return path;
};

describe('validation messages name the problem and the value', () => {
  it('suggests the key that was meant for a misspelt one', () => {
    expect(problems(() => parseConfig({ pairs: [pair({ unhealthyTreshold: 3 })] }))).toEqual([
      'pairs[0]: unknown key "unhealthyTreshold"; did you mean "unhealthyThreshold"?',
    ]);
  });

  it('lists the allowed keys when an unknown key is close to none of them', () => {
    expect(
      problems(() =>
        parseConfig({ pairs: [pair({ primary: { instanceId: 'i-0123456789abcdef0', eni: 'x' } })] }),
      ),
    ).toEqual(['pairs[0].primary: unknown key "eni" (allowed: "instanceId", "networkInterfaceId")']);
  });

  it('shows the value given and the allowed values for a value outside a fixed list', () => {
    expect(problems(() => parseConfig({ pairs: [pair({ failback: 'sometimes' })] }))).toEqual([
      'pairs[0].failback: expected one of "manual", "automatic" (got "sometimes")',
    ]);
  });

  it('suggests the allowed value that was meant for a misspelt one', () => {
    expect(problems(() => parseConfig({ pairs: [pair({ failback: 'automatc' })] }))).toEqual([
      'pairs[0].failback: expected one of "manual", "automatic" (got "automatc"); did you mean "automatic"?',
    ]);
    const scenario = problems(() =>
      parseScenario({
        name: 'x',
        config: { pairs: [pair()] },
        faults: [{ at: 60, target: 'branch-a/primary', fault: 'daemon-dwn' }],
        commands: [{ at: 60, command: 'failover', pair: 'branch-a', to: 'stanby' }],
      }),
    );
    expect(scenario).toContainEqual(
      expect.stringMatching(/^faults\[0\]\.fault: .*; did you mean "daemon-down"\?$/),
    );
    expect(scenario).toContainEqual(
      'commands[0].to: expected primary or standby (got "stanby"); did you mean "standby"?',
    );
  });

  it('suggests keys in scenario files too, the inline configuration included', () => {
    expect(
      problems(() =>
        parseScenario({
          name: 'x',
          config: { pairs: [pair()], dryrun: true },
          commands: [{ at: 60, command: 'failover', pair: 'branch-a', to: 'standby', forse: true }],
        }),
      ),
    ).toEqual([
      'commands[0]: unknown key "forse"; did you mean "force"?',
      'config: unknown key "dryrun"; did you mean "dryRun"?',
    ]);
  });

  it('says in one line that a configuration file is empty', () => {
    const path = file('pairs.yaml', '# nothing yet\n');
    expect(rejection(() => loadConfigFile(path)).message).toBe(
      `invalid configuration ${path}: the file is empty`,
    );
  });

  it('says in one line that a configuration file does not exist', () => {
    const path = join(tmpdir(), 'no-such-dir-vpn-failover', 'pairs.yaml');
    expect(rejection(() => loadConfigFile(path)).message).toBe(`invalid configuration ${path}: no such file`);
  });

  it('says in one line that a scenario file is empty or missing', () => {
    const empty = file('scenario.yaml', '');
    expect(rejection(() => loadScenarioFile(empty)).message).toBe(
      `invalid scenario ${empty}: the file is empty`,
    );
    const missing = join(tmpdir(), 'no-such-dir-vpn-failover', 'scenario.yaml');
    expect(rejection(() => loadScenarioFile(missing)).message).toBe(
      `invalid scenario ${missing}: no such file`,
    );
  });

  it('rejects a scenario longer than seven days, naming the limit and the value, and accepts seven days', () => {
    expect(
      problems(() => parseScenario({ name: 'x', config: { pairs: [pair()] }, duration: '100000h' })),
    ).toEqual(['duration: expected at most 7d of virtual time (got "100000h", 4166.7 days)']);
    expect(parseScenario({ name: 'x', config: { pairs: [pair()] }, duration: '7d' }).duration).toBe(604800);
  });
});

describe('the closest allowed key', () => {
  it.each([
    ['unhealthyTreshold', 'unhealthyThreshold'],
    ['failbackafter', 'failbackAfter'],
    ['coolDown', 'cooldown'],
    ['routeTable', 'routeTables'],
    ['destination', 'destinations'],
    ['tunel', 'tunnel'],
    ['colour', undefined],
    ['x', undefined],
    ['to', undefined],
  ])('for %s is %s', (key, expected) => {
    expect(
      closest(key, [
        'name',
        'routeTables',
        'destinations',
        'tunnel',
        'unhealthyThreshold',
        'cooldown',
        'failback',
        'failbackAfter',
      ]),
    ).toBe(expected);
  });
});
