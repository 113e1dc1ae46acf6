import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { addSimulateCommand } from '../../cli/simulate.ts';
import { COMPILE_CACHE_ENV } from '../child-env.ts';

const run = promisify(execFile);

/** How a run of the CLI ended. */
interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs by how and with what arguments: the simulation is deterministic, so tests that ask for the same run share it. */
const runs = new Map<string, Promise<CliRun>>();

function shared(how: string, args: readonly string[], start: () => Promise<CliRun>): Promise<CliRun> {
  const key = JSON.stringify([how, args]);
  let result = runs.get(key);
  if (result === undefined) {
    result = start();
    runs.set(key, result);
  }
  return result;
}

/** Run the CLI as a user would (node cli/bin.ts ...), never throwing on a non-zero exit. */
function cli(...args: string[]): Promise<CliRun> {
  return shared('process', args, () => runCli(args));
}

async function runCli(args: readonly string[]): Promise<CliRun> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['cli/bin.ts', ...args], {
      cwd: process.cwd(),
      env: { ...process.env, ...COMPILE_CACHE_ENV },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/**
 * Run `vpn-failover simulate ARGS` in this process: the command as cli/bin.ts registers it, parsing the same
 * arguments and writing what it would print, without starting Node and loading the command line again (one run
 * of the program itself stays below).
 */
function simulateInProcess(...args: string[]): Promise<CliRun> {
  return shared('in process', args, async () => {
    const out = { code: 0, stdout: '', stderr: '' };
    const program = new Command('vpn-failover').exitOverride();
    addSimulateCommand(program, {
      stdout: (text) => {
        out.stdout += text;
      },
      stderr: (text) => {
        out.stderr += text;
      },
      setExitCode: (code) => {
        out.code = code;
      },
    });
    await program.parseAsync(['simulate', ...args], { from: 'user' });
    return out;
  });
}

/** The published shape of `simulate --json`, as scripts read it: the listed event types with their fields, any others. */
const role = z.enum(['primary', 'standby']);
const at = { t: z.number().refine((t) => Math.round(t * 10) / 10 === t, 't is rounded to 0.1') };
const move = {
  ...at,
  pair: z.string(),
  from: role,
  to: role,
  reason: z.string(),
  kind: z.enum(['failover', 'failback']),
  trigger: z.string(),
};
const listedEvent = z.discriminatedUnion('type', [
  z.looseObject({ ...at, type: z.literal('fault'), target: z.string(), fault: z.string() }),
  z.looseObject({ ...at, type: z.literal('command'), pair: z.string(), command: z.string() }),
  z.looseObject({ ...move, type: z.literal('failover') }),
  z.looseObject({ ...move, type: z.literal('would-failover') }),
  z.looseObject({
    ...at,
    type: z.literal('route-change'),
    pair: z.string(),
    routeTable: z.string(),
    destination: z.string(),
    to: z.string(),
  }),
  z.looseObject({ ...at, type: z.literal('resize-stage'), pair: z.string() }),
  z.looseObject({ ...at, type: z.literal('alarm'), pair: z.string(), alarm: z.string() }),
]);
const LISTED = ['fault', 'command', 'failover', 'would-failover', 'route-change', 'resize-stage', 'alarm'];
const otherEvent = z.looseObject({ ...at, type: z.string().refine((type) => !LISTED.includes(type)) });
const contract = z.object({
  scenario: z.string(),
  events: z.array(z.union([listedEvent, otherEvent])),
  final: z.object({
    pairs: z.record(
      z.string(),
      z.object({
        active: role,
        routes: z.array(
          z.object({ routeTable: z.string(), destination: z.string(), to: z.string(), state: z.string() }),
        ),
        members: z.object({
          primary: z.object({ state: z.string(), instanceType: z.string() }),
          standby: z.object({ state: z.string(), instanceType: z.string() }),
        }),
        blackholeSeconds: z.number().nonnegative(),
      }),
    ),
  }),
});

const DRY_RUN = 'examples/scenarios/dry-run.yaml';

/** The run of the program itself that exercises the most: a simulation, JSON on stdout, a line on stderr, exit 1. */
const BOUND_EXCEEDED = ['simulate', '--scenario', DRY_RUN, '--json', '--fail-on-blackhole', '60'];
const MISSING_CONFIG = ['validate', '--config', 'no-such-dir/pairs.yaml'];

// The runs of the program itself start together, so that they overlap each other and the in-process runs.
beforeAll(() => {
  for (const args of [BOUND_EXCEEDED, ['--version'], MISSING_CONFIG]) void cli(...args);
});

describe('vpn-failover simulate', () => {
  it('prints one JSON document in the published shape (scenario, events, final) with --json', async () => {
    const { code, stdout } = await simulateInProcess(
      '--scenario',
      'examples/scenarios/terminate-active.yaml',
      '--json',
    );

    expect(code).toBe(0);
    const output = contract.parse(JSON.parse(stdout));
    expect(output.scenario).toBe('the active primary is terminated');
    expect(output.events[0]).toEqual({
      t: 120,
      type: 'fault',
      target: 'branch-a/primary',
      fault: 'terminate',
    });
    const failover = output.events.find((e) => e.type === 'failover');
    expect(failover).toMatchObject({
      pair: 'branch-a',
      from: 'primary',
      to: 'standby',
      reason: expect.any(String),
    });
    const routeChange = output.events.find((e) => e.type === 'route-change');
    expect(routeChange).toMatchObject({
      pair: 'branch-a',
      routeTable: expect.stringMatching(/^rtb-/),
      destination: expect.any(String),
      to: 'standby',
    });
    expect(output.final.pairs['branch-a']?.active).toBe('standby');
  });

  it('prints a timeline a person can follow without --json', async () => {
    const { code, stdout } = await simulateInProcess(
      '--scenario',
      'examples/scenarios/terminate-active.yaml',
      '--seed',
      '3',
    );

    expect(code).toBe(0);
    expect(stdout).toMatch(/02:00 {2}FAULT +branch-a\/primary terminate/);
    expect(stdout).toMatch(/FAILOVER +branch-a primary -> standby \(hard-loss\)/);
    expect(stdout).toMatch(/ROUTES +branch-a 4 routes -> standby/);
    expect(stdout).toContain('Final state');
    expect(stdout).toContain('branch-a: traffic on standby');
    expect(stdout).toContain('seed 3');
  });

  it('exits 2 and lists every problem with its path when the scenario is invalid, running nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'simulate-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'name: bad',
        'config:',
        '  pairs:',
        '    - { name: branch-a, primary: { instanceId: i-0123456789abcdef0 }, standby: { instanceId: x },',
        '        routeTables: [rtb-0a1b2c3d4e5f60718], destinations: [10.50.0.0/16] }',
        'faults:',
        '  - { at: 1m, target: branch-a/primary, fault: meteor }',
      ].join('\n'),
    );

    const { code, stdout, stderr } = await simulateInProcess('--scenario', file, '--json');

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('faults[0].fault: expected one of stop');
    expect(stderr).toContain('config.pairs[0].standby.instanceId: expected i-… (got "x")');
  });
  it('in a dry run reports the failover it would have made once, moves no route, and leaves every route on the lost primary', async () => {
    const { code, stdout } = await simulateInProcess('--scenario', DRY_RUN, '--json');

    expect(code).toBe(0);
    const output = contract.parse(JSON.parse(stdout));
    const types = output.events.map((e) => e.type);
    expect(output.events.filter((e) => e.type === 'would-failover')).toEqual([
      expect.objectContaining({
        pair: 'branch-a',
        from: 'primary',
        to: 'standby',
        kind: 'failover',
        trigger: 'hard-loss',
      }),
    ]);
    expect(types).not.toContain('failover');
    expect(types).not.toContain('route-change');
    expect(types).not.toContain('repair');
    expect(types).toContain('alarm');
    const pair = output.final.pairs['branch-a'];
    expect(pair?.active).toBe('primary');
    expect(pair?.routes.map((r) => [r.to, r.state])).toEqual(Array(4).fill(['primary', 'blackhole']));
  });

  it('in a dry run raises traffic-blackholed when the active primary is lost and nothing moves', async () => {
    const { stdout } = await simulateInProcess('--scenario', DRY_RUN, '--json');

    const output = contract.parse(JSON.parse(stdout));
    expect(output.events).toContainEqual(
      expect.objectContaining({ type: 'alarm', pair: 'branch-a', alarm: 'traffic-blackholed' }),
    );
  });

  it('in a dry run the timeline says WOULD FAIL OVER and the summary counts no move', async () => {
    const { code, stdout } = await simulateInProcess('--scenario', DRY_RUN);

    expect(code).toBe(0);
    expect(stdout).toMatch(
      /02:0\d {2}WOULD FAIL OVER branch-a primary -> standby \(hard-loss; dry run, nothing written\)/,
    );
    expect(stdout).not.toMatch(/^ {2}\d\d:\d\d {2}(FAILOVER|ROUTES) /m);
    expect(stdout).toContain('DRY RUN');
    expect(stdout).toContain('would fail over branch-a primary -> standby (hard-loss)');
    expect(stdout).toContain('no traffic moved');
    expect(stdout).toContain('0 failovers, 0 failbacks, 0 route changes, 1 would-be failover');
    expect(stdout).toContain('branch-a: routes on primary, 4 routes BLACKHOLED');
    expect(stdout).toContain('branch-a: traffic blackholed for 480 s');
  });

  it('exits 1 and names the pair when its traffic was blackholed longer than --fail-on-blackhole', async () => {
    const { code, stdout, stderr } = await cli(...BOUND_EXCEEDED);

    expect(code).toBe(1);
    expect(contract.parse(JSON.parse(stdout)).final.pairs['branch-a']?.blackholeSeconds).toBe(480);
    expect(stderr).toBe('branch-a: traffic blackholed for 480 s, more than --fail-on-blackhole 60 s\n');
  });

  it('exits 0 with --fail-on-blackhole when the failover kept the blackhole within the bound', async () => {
    const { code, stdout, stderr } = await simulateInProcess(
      '--scenario',
      'examples/scenarios/terminate-active.yaml',
      '--json',
      '--fail-on-blackhole',
      '30s',
    );

    expect(code).toBe(0);
    expect(stderr).toBe('');
    const seconds = contract.parse(JSON.parse(stdout)).final.pairs['branch-a']?.blackholeSeconds;
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(30);
  });

  it('exits 2 before running anything when --fail-on-blackhole is not a number of seconds', async () => {
    const { code, stdout, stderr } = await simulateInProcess(
      '--scenario',
      DRY_RUN,
      '--fail-on-blackhole',
      'soon',
    );

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('invalid --fail-on-blackhole: expected a number of seconds');
    expect(stderr).toContain('(got "soon")');
  });
});

describe('vpn-failover', () => {
  it('prints the package version with --version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

    const { code, stdout } = await cli('--version');

    expect(code).toBe(0);
    expect(stdout).toBe(`${version}\n`);
  });

  it('says in one line, without a stack trace, that a configuration file is missing, and exits 2', async () => {
    const { code, stderr } = await cli(...MISSING_CONFIG);

    expect(code).toBe(2);
    expect(stderr).toBe('invalid configuration no-such-dir/pairs.yaml: no such file\n');
  });
});
