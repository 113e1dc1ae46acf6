import type { PairConfig } from '../config/schema.ts';
import type { RouteWrite } from '../domain/plan.ts';
import type { ObservedRoute, PairObservation, Role, RouteTarget } from '../domain/types.ts';
import { ROLES } from '../domain/types.ts';

/** One managed (route table, destination) of a pair, described in the pair's terms. */
export interface RouteStatus {
  readonly routeTableId: string;
  readonly destination: string;
  /** the member the route points at, or missing (no route), or foreign (anything outside the pair) */
  readonly target: RouteTarget;
  /**
   * The route names the member's route-target ENI. False when it reaches the member some other way
   * (another ENI of the same instance): such a route is rewritten to the ENI on the next move or repair.
   * True when the member's ENI is unknown and the route names the member's instance, since nothing better
   * can be checked then.
   */
  readonly onEni: boolean;
  /** EC2 reports the route as blackhole: its target is not available (docs/aws-behaviour.md#route-state) */
  readonly blackhole: boolean;
  /** what the route points at, for reasons and alarms ("eni-…", "i-…", "igw-…", "no route") */
  readonly via: string;
}

const keyOf = (routeTableId: string, destination: string): string =>
  `${routeTableId} ${destination.toLowerCase()}`;

/** Classify one observed route against the pair's members (their ENIs first, their instance ids second). */
export function classifyRoute(route: ObservedRoute, observation: PairObservation): RouteStatus {
  const base = { routeTableId: route.routeTableId, destination: route.destination };
  if (!route.present) return { ...base, target: 'missing', onEni: false, blackhole: false, via: 'no route' };
  const blackhole = route.state === 'blackhole';
  const via = route.networkInterfaceId ?? route.instanceId ?? route.otherTarget ?? 'no target';
  // Route targets are ENIs (instance-id targets fail on multi-ENI instances,
  // docs/aws-behaviour.md#route-targets-are-network-interfaces), so an ENI match is the exact one; an instance-id
  // match only says which member the route reaches.
  const byEni = ROLES.find((role) => {
    const eni = observation.enis[role];
    return eni !== undefined && route.networkInterfaceId === eni;
  });
  if (byEni !== undefined) return { ...base, target: byEni, onEni: true, blackhole, via };
  const byInstance = ROLES.find(
    (role) => route.instanceId !== undefined && route.instanceId === observation.instances[role].instanceId,
  );
  if (byInstance !== undefined) {
    return { ...base, target: byInstance, onEni: observation.enis[byInstance] === undefined, blackhole, via };
  }
  // A managed route to an interface EC2 has deleted is taken back: nobody's traffic can flow through it. This
  // is how a member terminated before its ENI was ever remembered still gets its routes moved.
  if (route.targetDeleted === true) return { ...base, target: 'orphaned', onEni: false, blackhole, via };
  return { ...base, target: 'foreign', onEni: false, blackhole, via };
}

/**
 * Every managed (route table, destination) of the pair, classified, in configuration order; undefined when
 * the route tables could not be read. A managed route the observation does not mention counts as missing:
 * creating it is safe, because CreateRoute never overwrites an existing route (RouteAlreadyExists,
 * docs/aws-behaviour.md#replacing-and-creating-routes).
 */
export function analyseRoutes(
  pair: PairConfig,
  observation: PairObservation,
): readonly RouteStatus[] | undefined {
  if (observation.routes === undefined) return undefined;
  const observed = new Map<string, ObservedRoute>();
  for (const route of observation.routes) {
    const key = keyOf(route.routeTableId, route.destination);
    if (!observed.has(key)) observed.set(key, route);
  }
  return pair.routeTables.flatMap((routeTableId) =>
    pair.destinations.map((destination) =>
      classifyRoute(
        observed.get(keyOf(routeTableId, destination)) ?? { routeTableId, destination, present: false },
        observation,
      ),
    ),
  );
}

/** True when every route the pair may write is on `role`'s route-target ENI and not blackholed. */
export function routesConverged(routes: readonly RouteStatus[], role: Role): boolean {
  return routes.every(
    (route) => route.target === 'foreign' || (route.target === role && route.onEni && !route.blackhole),
  );
}

/**
 * The writes that point every managed route at `role`'s ENI: missing routes are created; routes on the
 * other member, on another ENI of `role`, or blackholed are replaced. Foreign routes are never written.
 */
export function routeWrites(
  routes: readonly RouteStatus[],
  role: Role,
  networkInterfaceId: string,
): RouteWrite[] {
  return routes.flatMap((route): RouteWrite[] => {
    if (route.target === 'foreign') return [];
    if (route.target === 'missing') {
      return [
        {
          routeTableId: route.routeTableId,
          destination: route.destination,
          action: 'create',
          networkInterfaceId,
        },
      ];
    }
    if (route.target === role && route.onEni && !route.blackhole) return [];
    return [
      {
        routeTableId: route.routeTableId,
        destination: route.destination,
        action: 'replace',
        networkInterfaceId,
      },
    ];
  });
}

/** Routes that point at `role`'s ENI and are blackholed: EC2 says the member's target is gone. */
export function blackholedRoutesOf(observation: PairObservation, role: Role): readonly ObservedRoute[] {
  const eni = observation.enis[role];
  if (eni === undefined || observation.routes === undefined) return [];
  return observation.routes.filter(
    (route) => route.present && route.state === 'blackhole' && route.networkInterfaceId === eni,
  );
}
