import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRecorded } from '../../sim/ground-truth.ts';
import { checkInvariants, INVARIANTS, type InvariantNumber, type Violation } from '../../sim/invariants.ts';
import { type LocalDynamo, startLocalDynamo } from '../../sim/local-dynamo.ts';
import { loadScenarioFile } from '../../sim/scenario.ts';
import { chaosCase } from './arbitraries.ts';

/**
 * The controller's invariants (sim/invariants.ts) under random fault schedules (./arbitraries.ts), each run in
 * the simulated account. `npm test` runs CHAOS_RUNS (default 500) schedules; `npm run chaos` runs 10,000.
 * CHAOS_SEED replays a fast-check seed. A failure prints the shrunk schedule as a scenario file for
 * `vpn-failover simulate`, and the broken invariants.
 */

const RUNS = Number(process.env.CHAOS_RUNS ?? 500);
const SEED = process.env.CHAOS_SEED === undefined ? undefined : Number(process.env.CHAOS_SEED);
/** Runs that share one local DynamoDB before it is replaced, so its memory stays small in long chaos runs. */
const RUNS_PER_DYNAMO = 500;

let dynamo: LocalDynamo;
let runs = 0;
/** How many runs each invariant judged at least one situation in. */
const applied = Object.fromEntries(INVARIANTS.map((n) => [n, 0])) as Record<InvariantNumber, number>;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
});

afterAll(async () => {
  await dynamo.close();
});

/** The shared local DynamoDB, replaced every RUNS_PER_DYNAMO runs. */
async function sharedDynamo(): Promise<LocalDynamo> {
  if (runs > 0 && runs % RUNS_PER_DYNAMO === 0) {
    await dynamo.close();
    dynamo = await startLocalDynamo();
  }
  return dynamo;
}

const describeViolations = (violations: readonly Violation[]): string =>
  violations.map((v) => `invariant ${v.invariant}: ${v.message}`).join('\n');

describe('random fault schedules over one to three pairs', () => {
  it(
    'never break the invariants: hard loss moves in time, only healthy targets, one soft failover per cooldown, convergence after the last fault, only the pair’s own routes and members',
    async () => {
      await fc.assert(
        fc.asyncProperty(chaosCase, async ({ scenario }) => {
          const { endpoint } = await sharedDynamo();
          const run = await runRecorded(scenario, { dynamoEndpoint: endpoint, tableName: `chaos-${runs}` });
          runs++;
          const results = checkInvariants(run);
          for (const n of INVARIANTS) if (results[n].checked > 0) applied[n]++;
          const violations = INVARIANTS.flatMap((n) => results[n].violations);
          if (violations.length > 0) throw new Error(`broken invariants:\n${describeViolations(violations)}`);
        }),
        { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
      );
    },
    Math.max(120_000, RUNS * 1_000),
  );

  it('exercise every invariant in a good share of the schedules', () => {
    // A property that holds vacuously proves nothing: each invariant must have had situations to judge. In 500
    // schedules each applies in 14 % (cooldown) to 100 % (ownership) of them; a few runs prove nothing either way.
    expect(runs).toBeGreaterThanOrEqual(RUNS);
    const minimum = RUNS >= 200 ? 0.05 : 0;
    for (const n of INVARIANTS) {
      expect(
        applied[n] / runs,
        `invariant ${n} applied in ${applied[n]} of ${runs} runs`,
      ).toBeGreaterThanOrEqual(minimum);
    }
  });

  it('print a failing schedule as a scenario file that `vpn-failover simulate` loads back to the same scenario', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chaos-'));
    fc.sample(chaosCase, { numRuns: 20, seed: 3 }).forEach((sample, i) => {
      const path = join(dir, `scenario-${i}.yaml`);
      writeFileSync(path, sample[fc.toStringMethod]());

      expect(loadScenarioFile(path)).toEqual(sample.scenario);
    });
  });
});
