import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

const run = promisify(execFile);

/** Run the CLI as a user would (node cli/bin.ts ...), never throwing on a non-zero exit. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['cli/bin.ts', ...args], { cwd: process.cwd() });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** contracts.md section 3, as scripts read it. */
const role = z.enum(['primary', 'standby']);
const contract = z.object({
  scenario: z.string(),
  events: z.array(
    z
      .looseObject({ t: z.number(), type: z.string() })
      .refine((e) => Math.round(e.t * 10) / 10 === e.t, 't is rounded to 0.1'),
  ),
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
      }),
    ),
  }),
});

describe('vpn-failover simulate', () => {
  it('prints one JSON document in the shape of contracts.md section 3 with --json', async () => {
    const { code, stdout } = await cli(
      'simulate',
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
    const { code, stdout } = await cli(
      'simulate',
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

    const { code, stdout, stderr } = await cli('simulate', '--scenario', file, '--json');

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('faults[0].fault: expected one of stop');
    expect(stderr).toContain('config.pairs[0].standby.instanceId: expected i-… (got "x")');
  });
});
