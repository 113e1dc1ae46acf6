import {
  CreateRouteCommand,
  DescribeInstanceStatusCommand,
  type EC2Client,
  ReplaceRouteCommand,
} from '@aws-sdk/client-ec2';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../shared/aws/state-store.ts';
import { runController } from '../../shared/controller/run.ts';
import { runScheduled } from '../../shared/controller/scheduled.ts';
import type { ControllerDeps, RunSummary, Trigger } from '../../shared/controller/types.ts';
import { useLocalStateTable } from '../support/dynamo.ts';
import {
  eniId,
  fleetConfig,
  instanceId,
  type MockFleet,
  mockFleet,
  steppingClock,
} from '../support/mock-fleet.ts';

/**
 * The controller's Lambda has no reserved concurrency, so invocations overlap: EC2 events arrive while a
 * fast-mode invocation evaluates, and a zone-wide loss sends one event per instance. The state table is what
 * keeps them apart; these runs overlap for real against a local DynamoDB.
 */

const local = useLocalStateTable();
let fleet: MockFleet | undefined;
afterEach(() => {
  fleet?.restore();
  fleet = undefined;
});

/** One route write as EC2 received it. */
interface WriteSeen {
  readonly routeTableId: string;
  readonly destination: string;
}

/** The fleet's deps for one invocation, recording the route writes it makes. */
function invocation(deps: ControllerDeps): { deps: ControllerDeps; writes: WriteSeen[] } {
  const writes: WriteSeen[] = [];
  const ec2 = deps.clients.ec2;
  const recording = new Proxy(ec2, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: unknown, ...rest: unknown[]) => {
        const result = await (target.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
        if (command instanceof ReplaceRouteCommand || command instanceof CreateRouteCommand) {
          writes.push({
            routeTableId: command.input.RouteTableId ?? '',
            destination: command.input.DestinationCidrBlock ?? '',
          });
        }
        return result;
      };
    },
  }) as EC2Client;
  return { deps: { ...deps, clients: { ...deps.clients, ec2: recording } }, writes };
}

const stopped = (n: number): Trigger => ({
  kind: 'instance-state-change',
  instanceId: instanceId(n),
  state: 'stopping',
});

/** Where each managed route of pair `i` points now, by member. */
function targetsOf(f: MockFleet, i: number): string[] {
  const pair = f.deps.config.pairs[i];
  return (pair?.routeTables ?? []).flatMap((table) =>
    [...(f.world.routes.get(table)?.values() ?? [])].map((eni) =>
      eni === eniId(2 * i + 1) ? 'primary' : eni === eniId(2 * i + 2) ? 'standby' : eni,
    ),
  );
}

describe('overlapping invocations against the same pairs', () => {
  const states = () => new StateStore({ dynamo: local.dynamo, tableName: local.tableName });

  it('move each lost pair once: every route written once, by a run that stored its intent, one history record per move', async () => {
    // Prepare: three pairs, steady; the primaries of pair-0 and pair-1 stop.
    const f = mockFleet(fleetConfig(3), {
      dynamoEndpoint: local.endpoint,
      tableName: local.tableName,
      clock: steppingClock(),
    });
    fleet = f;
    await runController(f.deps, { kind: 'schedule' });
    f.world.states.set(instanceId(1), 'stopping');
    f.world.states.set(instanceId(3), 'stopping');

    // Act: a fast-mode invocation, two scheduled runs and one event per stopped instance (twice, as EventBridge
    // may deliver an event more than once), all at once.
    const fast = invocation(f.deps);
    const runs = [
      { kind: 'schedule' } as const,
      stopped(1),
      stopped(3),
      { kind: 'schedule' } as const,
      stopped(1),
      stopped(3),
    ].map((trigger) => ({ trigger, ...invocation(f.deps) }));
    const fastConfig = {
      ...f.deps.config,
      controller: { ...f.deps.config.controller, fastMode: { enabled: true, interval: 10 } },
    };
    const [fastRuns, ...summaries] = await Promise.all([
      runScheduled({ ...fast.deps, config: fastConfig }),
      ...runs.map((r) => runController(r.deps, r.trigger)),
    ]);

    // Assess: both lost pairs on their standby, the third untouched.
    expect(targetsOf(f, 0)).toEqual(['standby', 'standby', 'standby', 'standby']);
    expect(targetsOf(f, 1)).toEqual(['standby', 'standby', 'standby', 'standby']);
    expect(targetsOf(f, 2)).toEqual(['primary', 'primary', 'primary', 'primary']);
    // Every route written exactly once, across all invocations.
    const all = [fast, ...runs].flatMap((r) => r.writes.map((w) => `${w.routeTableId} ${w.destination}`));
    expect(all.sort()).toEqual([...new Set(all)].sort());
    expect(all).toHaveLength(8);
    // A run wrote routes only for pairs whose move it started (stored the intent of).
    const everySummary = [...(fastRuns as RunSummary[]), ...(summaries as RunSummary[])];
    const startedBy = (summary: RunSummary) =>
      new Set(summary.pairs.filter((p) => p.moveStarted).map((p) => p.pair));
    for (const [i, r] of [fast, ...runs].entries()) {
      const mine = i === 0 ? (fastRuns as RunSummary[]) : [summaries[i - 1] as RunSummary];
      const started = new Set(mine.flatMap((s) => [...startedBy(s)]));
      const tables = new Set(
        f.deps.config.pairs.filter((p) => started.has(p.name)).flatMap((p) => p.routeTables),
      );
      for (const write of r.writes) {
        expect(tables.has(write.routeTableId), `invocation ${i} wrote to ${write.routeTableId}`).toBe(true);
      }
    }
    // Each move started once, and recorded once; so is the alarm it leaves (the stopped primary, now the
    // member not carrying traffic), however many runs saw it.
    const moves = everySummary.flatMap((s) => s.pairs.filter((p) => p.moveStarted).map((p) => p.pair));
    expect(moves.sort()).toEqual(['pair-0', 'pair-1']);
    for (const pair of ['pair-0', 'pair-1']) {
      const history = (await states().listHistory(pair)).reverse();
      expect(history.map((h) => [h.record.plan ?? h.record.event, h.record.from, h.record.to])).toEqual([
        ['failover', 'primary', 'standby'],
        ['alarm', undefined, undefined],
      ]);
      expect(history[1]?.record).toMatchObject({ raised: [{ kind: 'standby-unhealthy' }], cleared: [] });
    }
    expect(await states().listHistory('pair-2')).toEqual([]);
    expect(
      everySummary.flatMap((s) => s.pairs.flatMap((p) => (p.error ? [`${p.pair}: ${p.error}`] : []))),
    ).toEqual([]);
  });

  it('look again when another run stored the pair first: the move is still made, once, and no error reported', async () => {
    // Prepare: pair-0's primary stops; while this run observes, an overlapping run stores the pair (its
    // conditional write lands first, so this run's is refused).
    const f = mockFleet(fleetConfig(1), {
      dynamoEndpoint: local.endpoint,
      tableName: local.tableName,
      clock: steppingClock(),
    });
    fleet = f;
    await runController(f.deps, { kind: 'schedule' });
    f.world.states.set(instanceId(1), 'stopping');
    let overlapped = false;
    const ec2 = f.deps.clients.ec2;
    const racing = new Proxy(ec2, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return async (command: unknown, ...rest: unknown[]) => {
          if (command instanceof DescribeInstanceStatusCommand && !overlapped) {
            overlapped = true;
            const current = await states().loadPair('pair-0');
            await states().savePair('pair-0', current.version, { ...current.memory, unknownStreak: 1 });
          }
          return (target.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
        };
      },
    }) as EC2Client;

    // Act
    const summary = await runController(
      { ...f.deps, clients: { ...f.deps.clients, ec2: racing } },
      stopped(1),
    );

    // Assess
    expect(overlapped).toBe(true);
    expect(summary.pairs.map((p) => [p.pair, p.plan, p.moveStarted, p.error])).toEqual([
      ['pair-0', 'failover', true, undefined],
    ]);
    expect(targetsOf(f, 0)).toEqual(['standby', 'standby', 'standby', 'standby']);
    expect((await states().listHistory('pair-0')).map((h) => h.record.plan ?? h.record.event)).toEqual([
      'alarm',
      'failover',
    ]);
  });

  it('an event that finds the writer lease held, and sees it let go just before it marks its pair, moves the pair itself', async () => {
    // Prepare: another run holds the writer lease and lets go at the worst moment: after this run found the
    // lease held, before its mark lands (so the holder never saw the mark).
    const f = mockFleet(fleetConfig(1), {
      dynamoEndpoint: local.endpoint,
      tableName: local.tableName,
      clock: steppingClock(),
    });
    fleet = f;
    await runController(f.deps, { kind: 'schedule' });
    const T = f.deps.clock.now();
    await states().takeWriterLease('other-invocation', T + 60_000, T);
    f.world.states.set(instanceId(1), 'stopping');
    let released = false;
    const dynamo = f.deps.clients.dynamo;
    const racing = new Proxy(dynamo, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return async (command: unknown, ...rest: unknown[]) => {
          if (
            !released &&
            command instanceof UpdateCommand &&
            /ADD #pending/.test(command.input.UpdateExpression ?? '')
          ) {
            released = await states().releaseWriterLease('other-invocation', { tokens: 50, at: T });
          }
          return (target.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
        };
      },
    });

    // Act
    const summary = await runController(
      { ...f.deps, clients: { ...f.deps.clients, dynamo: racing } },
      stopped(1),
    );

    // Assess: nobody else would have looked at the mark; this run took the lease and moved the pair.
    expect(released).toBe(true);
    expect(summary.deferred).toBeUndefined();
    expect(summary.pairs.map((p) => [p.pair, p.plan, p.moveStarted])).toEqual([['pair-0', 'failover', true]]);
    expect(targetsOf(f, 0)).toEqual(['standby', 'standby', 'standby', 'standby']);
  });
});
