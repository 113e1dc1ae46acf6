import type { SimAccount } from './account.ts';

/**
 * How long each pair's traffic was blackholed in a run: the virtual time during which at least one of its
 * managed routes was in state blackhole (its target is not available: the ENI is gone, detached or on an
 * instance that is not running; https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html). It reads
 * the account's routes as they really are (not as reads may still show them) each time the clock has settled
 * at an instant, so a change and its undoing within one instant count for nothing.
 */

/**
 * Start measuring an account's blackholed time; call before its clock first runs. The returned function ends
 * the measurement at the current instant and gives each pair's blackholed seconds, rounded to 0.1.
 */
export function trackBlackholes(account: SimAccount): () => Record<string, number> {
  const { world, clock } = account;
  const pairs = account.config.pairs.map((pair) => ({
    name: pair.name,
    routes: pair.routeTables.flatMap((table) =>
      pair.destinations.map((destination) => ({ table, destination: destination.toLowerCase() })),
    ),
  }));
  /** pair -> virtual ms since the start at which its current blackholed stretch began */
  const since = new Map<string, number>();
  const totals = new Map<string, number>(pairs.map((pair) => [pair.name, 0]));

  const observe = (): void => {
    const now = clock.elapsed();
    for (const pair of pairs) {
      const blackholed = pair.routes.some(({ table, destination }) => {
        const route = world.routeTables.get(table)?.routes.get(destination);
        return route !== undefined && world.routeState(route.target) === 'blackhole';
      });
      const began = since.get(pair.name);
      if (blackholed && began === undefined) since.set(pair.name, now);
      if (!blackholed && began !== undefined) {
        totals.set(pair.name, (totals.get(pair.name) ?? 0) + now - began);
        since.delete(pair.name);
      }
    }
  };

  let measuring = true;
  clock.onSettled(() => {
    if (measuring) observe();
  });
  return () => {
    observe();
    measuring = false;
    const now = clock.elapsed();
    return Object.fromEntries(
      pairs.map((pair) => {
        const began = since.get(pair.name);
        const ms = (totals.get(pair.name) ?? 0) + (began === undefined ? 0 : now - began);
        return [pair.name, Math.round(ms / 100) / 10];
      }),
    );
  };
}
