import { CreateRouteCommand, type EC2Client, ReplaceRouteCommand } from '@aws-sdk/client-ec2';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StateStore } from '../../shared/aws/state-store.ts';
import { TokenBucket } from '../../shared/concurrency.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { runController } from '../../shared/controller/run.ts';
import { controllerTimeoutSeconds } from '../../shared/controller/timing.ts';
import type { ControllerDeps } from '../../shared/controller/types.ts';
import { WRITER_LEASE_MS } from '../../shared/controller/writer-lease.ts';
import { useLocalStateTable } from '../support/dynamo.ts';
import {
  eniId,
  fleetConfig,
  instanceId,
  type MockFleet,
  mockFleet,
  steppingClock,
} from '../support/mock-fleet.ts';

const local = useLocalStateTable();
let fleet: MockFleet | undefined;
afterEach(() => {
  vi.restoreAllMocks();
  fleet?.restore();
  fleet = undefined;
});

const SCHEDULE = { kind: 'schedule' } as const;

function start(pairs: number): MockFleet {
  fleet = mockFleet(fleetConfig(pairs), {
    dynamoEndpoint: local.endpoint,
    tableName: local.tableName,
    clock: steppingClock(),
  });
  return fleet;
}

/** One route write as EC2 received it: when, for which pair's table. */
interface WriteSeen {
  readonly at: number;
  readonly routeTableId: string;
}

/**
 * The fleet's deps with route writes passing through `gate` first: it sees each write and may answer it with an
 * error instead of the mock.
 */
function gatedWrites(
  deps: ControllerDeps,
  gate: (write: WriteSeen) => Error | undefined | Promise<Error | undefined>,
): { deps: ControllerDeps; writes: WriteSeen[] } {
  const writes: WriteSeen[] = [];
  const ec2 = deps.clients.ec2;
  const gated = new Proxy(ec2, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: unknown, ...rest: unknown[]) => {
        if (command instanceof ReplaceRouteCommand || command instanceof CreateRouteCommand) {
          const write = { at: deps.clock.now(), routeTableId: command.input.RouteTableId ?? '' };
          const error = await gate(write);
          if (error) throw error;
          writes.push(write);
        }
        return (target.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
      };
    },
  }) as EC2Client;
  return { deps: { ...deps, clients: { ...deps.clients, ec2: gated } }, writes };
}

const awsError = (name: string, message: string) =>
  Object.assign(new Error(message), { name, $metadata: {} });

/** Where each managed route of pair `i` points now, by member. */
function targetsOf(f: MockFleet, i: number): string[] {
  const pair = f.deps.config.pairs[i];
  return (pair?.routeTables ?? []).flatMap((table) =>
    [...(f.world.routes.get(table)?.values() ?? [])].map((eni) =>
      eni === eniId(2 * i + 1) ? 'primary' : eni === eniId(2 * i + 2) ? 'standby' : eni,
    ),
  );
}

describe('a move whose writes fail', () => {
  it('reports the error in every run, counts the move once, and says traffic is meant to be on the standby', async () => {
    // Prepare: state stored, then the primary stops while ReplaceRoute is denied.
    const f = start(1);
    await runController(f.deps, SCHEDULE);
    f.world.states.set(instanceId(1), 'stopped');
    const { deps } = gatedWrites(f.deps, () =>
      awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'),
    );

    // Act
    const first = await runController(deps, SCHEDULE);
    const second = await runController(deps, SCHEDULE);

    // Assess
    expect(first.pairs[0]).toMatchObject({
      plan: 'failover',
      moveStarted: true,
      active: 'standby',
      error: expect.stringMatching(/4 writes failed.*UnauthorizedOperation/),
    });
    expect(second.pairs[0]).toMatchObject({
      plan: 'repair-routes',
      active: 'standby',
      error: expect.stringMatching(/UnauthorizedOperation/),
    });
    expect(second.pairs[0]?.moveStarted).toBeUndefined();
    expect(targetsOf(f, 0)).toEqual(['primary', 'primary', 'primary', 'primary']);
  });
});

describe('a run that another writer got ahead of', () => {
  it("decides again from what the other writer stored: a resize took the standby's lease between the run's read and its write, so nothing is written and no error reported", async () => {
    // Prepare: state stored; the primary stops; the resize workflow takes the lease on the standby (a new version
    // of the pair item) just before the controller stores its intent.
    const f = start(1);
    await runController(f.deps, SCHEDULE);
    f.world.states.set(instanceId(1), 'stopped');
    const store = new StateStore({ dynamo: f.deps.clients.dynamo, tableName: local.tableName });
    let raced = false;
    const dynamo = new Proxy(f.deps.clients.dynamo, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return async (command: unknown, ...rest: unknown[]) => {
          const input = (command as { input?: { Key?: Record<string, unknown> } }).input;
          if (!raced && command instanceof UpdateCommand && input?.Key?.sk === 'state') {
            raced = true;
            await store.acquireLease(
              'pair-0',
              { owner: 'resize-1', member: 'standby', until: f.deps.clock.now() + 60_000 },
              0,
            );
          }
          return (target.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
        };
      },
    });

    // Act
    const run = await runController({ ...f.deps, clients: { ...f.deps.clients, dynamo } }, SCHEDULE);

    // Assess: no route moved, no error to alarm on, and the reason says why.
    expect(raced).toBe(true);
    expect(run.pairs[0]?.error).toBeUndefined();
    expect(run.pairs[0]?.moveStarted).toBeUndefined();
    expect(run.pairs[0]?.active).toBe('primary');
    expect(run.pairs[0]?.alarms.map((a) => a.kind)).toContain('maintenance-lease');
    expect(targetsOf(f, 0)).toEqual(['primary', 'primary', 'primary', 'primary']);
  });
});

describe('the history of route changes', () => {
  it('records a failover whose history write failed in the next run, once', async () => {
    // Prepare: state stored; the first history PutItem will fail.
    const f = start(1);
    await runController(f.deps, SCHEDULE);
    const dynamo = f.deps.clients.dynamo;
    const send = dynamo.send.bind(dynamo);
    let failed = 0;
    vi.spyOn(dynamo, 'send').mockImplementation((async (command: unknown) => {
      const item = command instanceof PutCommand ? command.input.Item : undefined;
      const isMove = String(item?.sk ?? '').startsWith('history#') && item?.record?.plan !== undefined;
      if (isMove && failed === 0) {
        failed += 1;
        throw awsError('InternalServerError', 'Internal server error');
      }
      return send(command as never);
    }) as never);
    f.world.states.set(instanceId(1), 'stopped');
    const history = async () =>
      (
        await new StateStore({ dynamo: local.dynamo, tableName: local.tableName }).listHistory('pair-0')
      ).filter((entry) => entry.record.plan !== undefined);

    // Act
    const moved = await runController(f.deps, SCHEDULE);
    const before = await history();
    await runController(f.deps, SCHEDULE);
    await runController(f.deps, SCHEDULE);

    // Assess
    expect(moved.pairs[0]).toMatchObject({ plan: 'failover', active: 'standby', moveStarted: true });
    expect(moved.pairs[0]?.error).toMatch(/1 history record not copied.*Internal server error/);
    expect(targetsOf(f, 0)).toEqual(['standby', 'standby', 'standby', 'standby']);
    expect(before).toEqual([]);
    const after = await history();
    expect(after).toHaveLength(1);
    expect(after[0]?.record).toMatchObject({
      plan: 'failover',
      trigger: 'hard-loss',
      from: 'primary',
      to: 'standby',
      routesPlanned: 4,
      activeBefore: 'primary',
    });
  });

  it('records the outcome of a move with its intent', async () => {
    const f = start(1);
    await runController(f.deps, SCHEDULE);
    f.world.states.set(instanceId(1), 'stopped');

    await runController(f.deps, SCHEDULE);

    const entry = (
      await new StateStore({ dynamo: local.dynamo, tableName: local.tableName }).listHistory('pair-0')
    ).find((e) => e.record.plan !== undefined);
    expect(entry?.record).toMatchObject({ plan: 'failover', routesPlanned: 4, failures: [], unconfirmed: 0 });
    expect(entry?.record.routesChanged).toHaveLength(4);
  });
});

describe('one write budget for the whole run', () => {
  it('moves every route of a zone-wide loss in one run, no faster than EC2 refills, hard losses first', async () => {
    // Prepare: 40 pairs stored; pairs 30-39 have a failing daemon (one evaluation so far), then the primaries
    // of pairs 0-29 stop: one run has 120 hard-loss writes and 40 soft-failure writes to make.
    const f = start(40);
    await runController(f.deps, SCHEDULE);
    for (let i = 30; i < 40; i++) f.world.probeExit.set(instanceId(2 * i + 1), 1);
    await runController(f.deps, SCHEDULE);
    for (let i = 0; i < 30; i++) f.world.states.set(instanceId(2 * i + 1), 'stopped');
    const { deps, writes } = gatedWrites(f.deps, () => undefined);
    const startedAt = f.deps.clock.now();

    // Act
    const summary = await runController(deps, SCHEDULE);

    // Assess: all moved, none failed.
    expect(summary.pairs.map((p) => [p.plan, p.error])).toEqual(
      Array.from({ length: 40 }, () => ['failover', undefined]),
    );
    for (let i = 0; i < 40; i++)
      expect(targetsOf(f, i)).toEqual(['standby', 'standby', 'standby', 'standby']);
    // Paced: the n-th write (from 1) goes no earlier than (n - 50) / 5 s after the run started.
    expect(writes).toHaveLength(160);
    writes.forEach((write, n) => {
      expect(write.at - startedAt).toBeGreaterThanOrEqual(((n + 1 - 50) / 5) * 1000 - 1);
    });
    // Hard losses first: every write of pairs 0-29 comes before any write of pairs 30-39.
    const hardTables = new Set(f.deps.config.pairs.slice(0, 30).flatMap((p) => p.routeTables));
    const lastHard = writes.findLastIndex((w) => hardTables.has(w.routeTableId));
    const firstSoft = writes.findIndex((w) => !hardTables.has(w.routeTableId));
    expect(lastHard).toBeLessThan(firstSoft);
  });

  it('waits for the budget and writes again when EC2 throttles a write someone else’s calls left no room for', async () => {
    // Prepare: EC2's bucket is empty at first (another tool spent it) and refills 5 a second.
    const f = start(3);
    await runController(f.deps, SCHEDULE);
    for (let i = 0; i < 3; i++) f.world.states.set(instanceId(2 * i + 1), 'stopped');
    let tokens = 0;
    let at = f.deps.clock.now();
    const { deps } = gatedWrites(f.deps, (write) => {
      tokens = Math.min(50, tokens + ((write.at - at) / 1000) * 5);
      at = write.at;
      if (tokens < 1) return awsError('RequestLimitExceeded', 'Request limit exceeded.');
      tokens -= 1;
      return undefined;
    });

    // Act
    const summary = await runController(deps, SCHEDULE);

    // Assess
    expect(summary.pairs.map((p) => [p.plan, p.error])).toEqual([
      ['failover', undefined],
      ['failover', undefined],
      ['failover', undefined],
    ]);
    for (let i = 0; i < 3; i++) expect(targetsOf(f, i)).toEqual(['standby', 'standby', 'standby', 'standby']);
  });
});

describe('overlapping runs', () => {
  const states = () => new StateStore({ dynamo: local.dynamo, tableName: local.tableName });

  it('leave their moves to the run that holds the writer lease, marking the pairs for it', async () => {
    // Prepare: another invocation is writing; the primary of pair-0 stops.
    const f = start(2);
    await runController(f.deps, SCHEDULE);
    const T = f.deps.clock.now();
    await states().takeWriterLease('other-invocation', T + 60_000, T);
    f.world.states.set(instanceId(1), 'stopped');
    f.reset();

    // Act
    const summary = await runController(f.deps, SCHEDULE);

    // Assess
    expect(summary.pairs.map((p) => [p.pair, p.plan, p.deferred, p.active])).toEqual([
      ['pair-0', 'failover', true, 'primary'],
      ['pair-1', 'noop', undefined, 'primary'],
    ]);
    expect(targetsOf(f, 0)).toEqual(['primary', 'primary', 'primary', 'primary']);
    expect(await states().takeMarkedPairs('other-invocation')).toEqual(['pair-0']);
  });

  it('cannot take the writer lease from a run still writing after the lease’s first span', async () => {
    // Prepare: 100 pairs lose their primaries: 400 writes take over 70 s at EC2's rate, more than the lease's
    // span; an intruder tries to take the lease as the last write goes out.
    const f = start(100);
    await runController(f.deps, SCHEDULE);
    for (let i = 0; i < 100; i++) f.world.states.set(instanceId(2 * i + 1), 'stopped');
    let intruder: unknown = 'not tried';
    let seen = 0;
    const startedAt = f.deps.clock.now();
    const { deps } = gatedWrites(f.deps, async (write) => {
      seen += 1;
      if (seen === 400) {
        expect(write.at - startedAt).toBeGreaterThan(WRITER_LEASE_MS);
        intruder = await states().takeWriterLease('intruder', write.at + 1000, write.at);
      }
      return undefined;
    });

    // Act
    const summary = await runController(deps, SCHEDULE);

    // Assess
    expect(intruder).toBeUndefined();
    expect(summary.pairs.every((p) => p.moveStarted && p.error === undefined)).toBe(true);
  });

  it('are looked after by the writer: it reconciles the pairs others marked before it lets go', async () => {
    // Prepare: both primaries stop; an earlier overlapping run marked pair-1; this run is asked about pair-0.
    const f = start(2);
    await runController(f.deps, SCHEDULE);
    f.world.states.set(instanceId(1), 'stopped');
    f.world.states.set(instanceId(3), 'stopped');
    await states().markPairs(['pair-1']);

    // Act
    const summary = await runController(f.deps, { kind: 'reconcile', pair: 'pair-0' });

    // Assess: both moved by this one run, and the lease is free again.
    expect(summary.pairs.map((p) => [p.pair, p.plan, p.moveStarted])).toEqual([
      ['pair-0', 'failover', true],
      ['pair-1', 'failover', true],
    ]);
    expect(targetsOf(f, 1)).toEqual(['standby', 'standby', 'standby', 'standby']);
    const now = f.deps.clock.now();
    expect(await states().takeWriterLease('next', now + 1000, now)).toBeDefined();
  });
});

describe('the write budget', () => {
  it('gives its burst at once, then one token per refill interval, and nothing past the deadline', async () => {
    const clock = steppingClock(0);
    const bucket = new TokenBucket(clock, { capacity: 3, refillPerSecond: 5 });
    const times: number[] = [];

    for (let i = 0; i < 5; i++) {
      await bucket.take();
      times.push(clock.now());
    }
    const late = await bucket.take(clock.now() + 100);

    expect(times).toEqual([0, 0, 0, 200, 400]);
    expect(late).toBe(false);
  });

  it('starts refilling from nothing when the service says the bucket is empty', async () => {
    const clock = steppingClock(0);
    const bucket = new TokenBucket(clock, { capacity: 50, refillPerSecond: 5 });

    bucket.empty();
    await bucket.take();

    expect(clock.now()).toBe(200);
  });
});

describe('the controller’s Lambda timeout', () => {
  /** `pairs` pairs of `tables` route tables × 4 destinations each. */
  const config = (pairs: number, tables = 2, controller: Record<string, unknown> = {}) =>
    parseConfig({
      ...structuredClone(fleetConfig(pairs)),
      pairs: fleetConfig(pairs).pairs.map((p, i) => ({
        ...structuredClone(p),
        routeTables: Array.from(
          { length: tables },
          (_, t) => `rtb-${(i * 100 + t).toString(16).padStart(17, '0')}`,
        ),
        destinations: [...p.destinations, `192.168.${i % 250}.0/24`, `100.64.${i % 250}.0/24`],
      })),
      controller,
    });

  it.each([
    { pairs: 1, tables: 2, routes: 8, seconds: 60 + 60 },
    { pairs: 6, tables: 2, routes: 48, seconds: 60 + 60 },
    { pairs: 75, tables: 2, routes: 600, seconds: 60 + 60 + 110 + 10 },
    { pairs: 300, tables: 2, routes: 2400, seconds: 60 + 60 + 470 + 10 },
    { pairs: 500, tables: 2, routes: 4000, seconds: 900 },
  ])(
    'gives $pairs pairs ($routes routes) $seconds s: an evaluation and its re-checks, and the time to write every route at EC2’s refill rate',
    ({ pairs, tables, seconds }) => {
      expect(controllerTimeoutSeconds(config(pairs, tables))).toBe(seconds);
    },
  );

  it('gives fast mode its schedule period plus one evaluation, and the write time on top, up to Lambda’s 900 s', () => {
    const fast = { schedule: '1m', fastMode: { enabled: true, interval: '10s' } };
    expect(controllerTimeoutSeconds(config(1, 2, fast))).toBe(60 + 60);
    expect(controllerTimeoutSeconds(config(75, 2, fast))).toBe(60 + 60 + 110 + 10);
    expect(controllerTimeoutSeconds(config(500, 4, fast))).toBe(900);
  });
});
