import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  RESIZE_EXIT,
  type ResizeCliDeps,
  type ResizeOptions,
  registerResizeCommand,
  runResize,
} from '../../cli/resize.ts';
import type { CliIo } from '../../cli/simulate.ts';
import { StateStore } from '../../shared/aws/state-store.ts';
import { loadConfigFile } from '../../shared/config/file.ts';
import { createSimAccount, type SimAccount } from '../../sim/account.ts';
import { installResizeWorkflow, type SimResizeWorkflow } from '../../sim/resize.ts';

/**
 * `vpn-failover resize` against the simulated account: the CLI's own SFN and EC2 clients reach the simulator,
 * which runs the synthesized state machine; the CLI polls on the virtual clock.
 */

let account: SimAccount;
let workflow: SimResizeWorkflow;

beforeEach(async () => {
  account = await createSimAccount(loadConfigFile('examples/pairs.yaml'));
  workflow = installResizeWorkflow(account);
});
afterEach(async () => {
  await account.close();
});

interface Captured extends CliIo {
  readonly out: string[];
  readonly err: string[];
  code?: number;
}

const capture = (): Captured => {
  const io: Captured = {
    out: [],
    err: [],
    stdout: (text) => {
      io.out.push(text);
    },
    stderr: (text) => {
      io.err.push(text);
    },
    setExitCode: (code) => {
      io.code = code;
    },
  };
  return io;
};

const options = (overrides: Partial<ResizeOptions> = {}): ResizeOptions => ({
  to: 'c6in.xlarge',
  failback: true,
  soak: '2m',
  config: 'examples/pairs.yaml',
  stateMachineArn: workflow.stateMachineArn,
  ...overrides,
});

const deps = (overrides: Partial<ResizeCliDeps> = {}): ResizeCliDeps => ({
  clients: () => account.clients,
  clock: account.clock,
  env: {},
  isTTY: false,
  pollMs: 5000,
  ...overrides,
});

/** Run the command while virtual time moves, until it returns. */
async function settle<T>(work: () => Promise<T>, limitMinutes = 90): Promise<T> {
  let outcome: { value: T } | { error: unknown } | undefined;
  work().then(
    (value) => {
      outcome = { value };
    },
    (error: unknown) => {
      outcome = { error };
    },
  );
  for (let i = 0; i < limitMinutes * 6 && outcome === undefined; i++) {
    await account.clock.runUntil(account.clock.now() + 10_000);
  }
  if (outcome === undefined)
    throw new Error(`the command did not return within ${limitMinutes} virtual minutes`);
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}

const text = (io: Captured) => io.out.join('');

describe('vpn-failover resize', () => {
  it('rejects an unknown pair before starting anything (exit 2)', async () => {
    const io = capture();

    expect(await settle(() => runResize('branch-z', options(), io, deps()))).toBe(RESIZE_EXIT.invalid);
    expect(io.err.join('')).toContain(
      'unknown pair "branch-z" in examples/pairs.yaml (configured: branch-a)',
    );
    expect(workflow.stepFunctions.executions()).toEqual([]);
  });

  it('rejects a malformed or unknown instance type before starting anything (exit 2)', async () => {
    const malformed = capture();
    expect(await settle(() => runResize('branch-a', options({ to: 'big' }), malformed, deps()))).toBe(
      RESIZE_EXIT.invalid,
    );
    expect(malformed.err.join('')).toContain('instanceType: expected an instance type like "c6in.xlarge"');

    const unknown = capture();
    expect(await settle(() => runResize('branch-a', options({ to: 'c6in.huge' }), unknown, deps()))).toBe(
      RESIZE_EXIT.invalid,
    );
    expect(unknown.err.join('')).toContain('EC2 does not know instance type c6in.huge');
    expect(workflow.stepFunctions.executions()).toEqual([]);
  });

  it('needs the state machine ARN, from the option or the environment', async () => {
    const io = capture();
    const { stateMachineArn: _, ...withoutArn } = options();

    expect(await settle(() => runResize('branch-a', withoutArn, io, deps()))).toBe(RESIZE_EXIT.invalid);
    expect(io.err.join('')).toContain('VPN_FAILOVER_STATE_MACHINE_ARN');
    expect(workflow.stepFunctions.executions()).toEqual([]);
  });

  it('starts the workflow under a deterministic name and follows it step by step to success (exit 0)', async () => {
    const io = capture();

    const code = await settle(() =>
      runResize(
        'branch-a',
        options(),
        io,
        deps({ env: { VPN_FAILOVER_STATE_MACHINE_ARN: workflow.stateMachineArn } }),
      ),
    );

    expect(code).toBe(RESIZE_EXIT.succeeded);
    const [execution] = workflow.stepFunctions.executions();
    expect(execution?.name).toBe('resize-branch-a-20260101T000000Z');
    const steps = text(io)
      .split('\n')
      .flatMap((line) => /^\[\s*\d+:\d\d\] (.+)$/.exec(line)?.[1] ?? []);
    expect(steps).toEqual([
      'Preflight',
      'Resize standby: stop',
      'Resize standby: wait until stopped',
      'Resize standby: set type',
      'Resize standby: start',
      'Resize standby: wait until healthy',
      'Fail over to standby',
      'Soak',
      'Resize primary: stop',
      'Resize primary: wait until stopped',
      'Resize primary: set type',
      'Resize primary: start',
      'Resize primary: wait until healthy',
      'Fail back',
      'Conclude',
      'Notify',
    ]);
    expect(text(io)).toMatch(
      /Resize succeeded after \d+m\d*s?\.\nResize of pair branch-a to c6in\.xlarge succeeded\./,
    );
  });

  it('prints one JSON object per line with --json, ending with how it finished', async () => {
    const io = capture();

    await settle(() => runResize('branch-a', options({ json: true }), io, deps()));

    const lines = text(io)
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; result?: string; step?: string });
    expect(lines[0]).toMatchObject({ event: 'started', execution: 'resize-branch-a-20260101T000000Z' });
    expect(lines.filter((l) => l.event === 'step').map((l) => l.step)).toContain('Fail over to standby');
    expect(lines.at(-1)).toMatchObject({ event: 'finished', status: 'SUCCEEDED', result: 'succeeded' });
  });

  it('exits 1 with the reason when the resize rolls back', async () => {
    account.world.applyFault(account.world.member('branch-a', 'standby'), 'insufficient-capacity');
    const io = capture();

    expect(await settle(() => runResize('branch-a', options(), io, deps()))).toBe(RESIZE_EXIT.failed);
    expect(text(io)).toContain('! InsufficientCapacityError: StartInstances');
    expect(text(io)).toContain('Resize rolled back after');
  });

  it('stops following on Ctrl-C while the workflow goes on, and can follow it again', async () => {
    const interrupt = new AbortController();
    const io = capture();
    const stdout = io.stdout;
    const watching: CliIo = {
      ...io,
      stdout: (line) => {
        stdout(line);
        if (line.includes('Resize standby: stop')) interrupt.abort();
      },
    };

    const code = await settle(() =>
      runResize('branch-a', options(), watching, deps({ interrupt: interrupt.signal })),
    );

    expect(code).toBe(RESIZE_EXIT.detached);
    const [execution] = workflow.stepFunctions.executions();
    expect(text(io)).toContain(`Follow it again: vpn-failover resize --follow ${execution?.executionArn}`);
    expect(execution?.status).toBe('RUNNING');

    const again = capture();
    expect(
      await settle(() =>
        runResize(undefined, options({ follow: execution?.executionArn ?? '' }), again, deps()),
      ),
    ).toBe(RESIZE_EXIT.succeeded);
    expect(text(again)).toContain('Resize succeeded');
  });

  it('prints the plan and the preflight with --dry-run, starting nothing and taking no lease', async () => {
    const io = capture();

    const code = await settle(() =>
      runResize(
        'branch-a',
        options({ dryRun: true }),
        io,
        deps({
          env: { VPN_FAILOVER_TABLE: account.tableName, VPN_FAILOVER_PROBE_DOCUMENT: account.probeDocument },
        }),
      ),
    );

    expect(code).toBe(RESIZE_EXIT.succeeded);
    expect(text(io)).toContain('ok   both members healthy');
    expect(text(io)).toContain('2. resize standby: i-0fedcba9876543210 c6in.large -> c6in.xlarge');
    expect(workflow.stepFunctions.executions()).toEqual([]);
    const stored = await settle(() =>
      new StateStore({ dynamo: account.clients.dynamo, tableName: account.tableName }).loadPair('branch-a'),
    );
    expect(stored.memory.lease).toBeUndefined();
  });

  it('draws a spinner on the current step on a terminal, and a check mark on each finished one', async () => {
    const io = capture();

    await settle(() => runResize('branch-a', options(), io, deps({ isTTY: true, pollMs: 1000 })));

    expect(text(io)).toContain('\r\x1b[2K✓ Resize standby: stop');
    expect(
      io.out.some(
        (chunk) =>
          chunk.startsWith('\r\x1b[2K') &&
          '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏'.includes(chunk.charAt(5)) &&
          chunk.slice(6).startsWith(' Resize standby: wait until stopped'),
      ),
    ).toBe(true);
  });

  it('is registered as a subcommand that sets the exit status', async () => {
    const io = capture();
    const program = new Command('vpn-failover').exitOverride();
    registerResizeCommand(program, io, deps());

    await settle(() => program.parseAsync(['resize', 'branch-z', '--to', 'c6in.xlarge'], { from: 'user' }));

    expect(io.code).toBe(RESIZE_EXIT.invalid);
  });
});
