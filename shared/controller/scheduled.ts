import { runController } from './run.ts';
import { controllerTimeoutSeconds, evaluationSlots } from './timing.ts';
import type { ControllerDeps, RunSummary, Trigger } from './types.ts';

/**
 * A scheduled invocation: evaluate every pair at each of its evaluationSlots, and in between re-check the pairs
 * whose evaluation asked for it (a failure seen fewer than unhealthyThreshold times, shared/decide/recheck.ts)
 * as soon as they asked, instead of at the next slot or schedule. Re-checks start only while the next
 * scheduled invocation has not taken over (a schedule period after `startMs`) and one more evaluation fits
 * before the invocation's deadline. An evaluation that overruns its slot makes the next one start as soon as
 * it ends (slots it overran entirely are covered by that one). Each run is handed to `onRun` as soon as it
 * finishes (its metrics are published then, not at the end of the invocation). Each run holds the writer lease
 * only while it writes, never between evaluations, so an EC2 event's run overlapping the loop is not held up.
 * Waiting is on the injected clock.
 */
export async function runScheduled(
  deps: ControllerDeps,
  options: { readonly onRun?: (summary: RunSummary) => void } = {},
): Promise<RunSummary[]> {
  const { controller } = deps.config;
  const startMs = deps.clock.now();
  // Every run of the invocation shares its deadline.
  const deadline = deps.deadline ?? startMs + controllerTimeoutSeconds(deps.config) * 1000;
  const invocation: ControllerDeps = { ...deps, deadline };
  const { slots, takeOver } = evaluationSlots(controller, startMs, deadline);
  const runs: RunSummary[] = [];
  const run = async (trigger: Trigger): Promise<RunSummary> => {
    const summary = await runController(invocation, trigger);
    runs.push(summary);
    options.onRun?.(summary);
    return summary;
  };
  for (const [k, slot] of slots.entries()) {
    const nextSlot = slots[k + 1] ?? takeOver;
    // An overrun past the following slot too: that slot's evaluation starts now instead.
    if ((slots[k + 1] ?? Infinity) <= deps.clock.now()) continue;
    await deps.clock.sleep(Math.max(0, slot - deps.clock.now()));
    let summary = await run({ kind: 'schedule' });
    for (;;) {
      const asked = summary.pairs.filter((p) => p.recheckAfterMs !== undefined);
      if (asked.length === 0) break;
      // The delay counts from the start of the evaluation that asked, so the two readings are that far apart.
      const at = Date.parse(summary.startedAt) + Math.min(...asked.map((p) => p.recheckAfterMs as number));
      if (at >= nextSlot) break;
      await deps.clock.sleep(Math.max(0, at - deps.clock.now()));
      summary = await run({ kind: 'recheck', pairs: asked.map((p) => p.pair) });
    }
  }
  return runs;
}
