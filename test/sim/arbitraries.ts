import fc from 'fast-check';
import { stringify } from 'yaml';
import type { Role } from '../../shared/domain/types.ts';
import type { MemberFault } from '../../sim/faults.ts';
import { parseScenario, type Scenario } from '../../sim/scenario.ts';

/**
 * Random fault schedules for the property tests: one to three pairs sharing route tables (now and then one with
 * 7 tables x 8 destinations, more route writes than EC2's mutating burst of 50), every member fault kind at
 * random (overlapping) times (the member agent stopping and starting included), many of them healed again later, now and then a zone-wide loss (every pair's
 * primary, or standby, at one instant), API throttling windows of up to 90 % of calls,
 * state-table errors, operator failovers (some forced), a rare resize, controller crashes after k route writes
 * (up to three per run), and overlapping invocations (unreserved, or reserved concurrency up to 3). Each value is a scenario
 * file's document; it prints as YAML that `vpn-failover simulate` runs again, so a shrunk counterexample can be
 * replayed and read as a timeline.
 */

/** A generated scenario: the document as a user would write it, and the validated scenario. */
export interface ChaosCase {
  readonly document: ScenarioDocument;
  readonly scenario: Scenario;
  /** controller invocations that may run at once (runScenario's reservedConcurrency) */
  readonly reservedConcurrency: number;
  /** how fast-check shows the value in a failure report: the scenario as YAML */
  readonly [fc.toStringMethod]: () => string;
}

/** A scenario file's document (plus crashAfterRouteWrites). */
export interface ScenarioDocument {
  readonly name: string;
  readonly seed: number;
  readonly duration: string;
  readonly crashAfterRouteWrites?: number | readonly number[];
  readonly config: Record<string, unknown>;
  readonly faults: readonly Record<string, unknown>[];
  readonly commands: readonly Record<string, unknown>[];
}

const PAIR_NAMES = ['branch-a', 'branch-b', 'branch-c'] as const;
/** Route tables the pairs draw from, so that pairs share tables (each pair has its own destinations). */
const TABLE_POOL = 8;
/** The large pair's shape: 56 routes, more than EC2's mutating burst (50) on its own. */
const LARGE = { tables: 7, destinations: 8 } as const;

const hex17 = (n: number): string => n.toString(16).padStart(17, '0');
const instanceId = (pair: number, role: Role): string =>
  `i-${hex17(2 * pair + (role === 'primary' ? 1 : 2))}`;
const tableId = (n: number): string => `rtb-${hex17(0xa0 + n)}`;
const routingEni = (pair: number, role: Role): string =>
  `eni-${hex17(0xe00 + 2 * pair + (role === 'primary' ? 1 : 2))}`;

/** The fault that heals each kind, where there is one. */
const HEALS: Readonly<Partial<Record<MemberFault, MemberFault>>> = {
  stop: 'start',
  'system-impaired': 'status-ok',
  'instance-impaired': 'status-ok',
  'daemon-down': 'daemon-up',
  'tunnel-down': 'tunnel-up',
  'ssm-agent-offline': 'ssm-agent-online',
  'daemon-hang': 'daemon-up',
  'os-hang': 'os-recover',
  'agent-stop': 'agent-start',
};

/**
 * Every member fault kind of a scenario file (docs/simulator.md#scenario-files) (api-throttling has its own
 * windows), weighted towards the soft failures (daemon, tunnel) that the streak and cooldown rules are about, then
 * the hard losses.
 */
const MEMBER_FAULTS: readonly (readonly [MemberFault, number])[] = [
  ['daemon-down', 5],
  ['tunnel-down', 5],
  ['stop', 2],
  ['terminate', 2],
  ['system-impaired', 2],
  ['instance-impaired', 2],
  ['start', 1],
  ['status-ok', 1],
  ['daemon-up', 1],
  ['tunnel-up', 1],
  ['ssm-agent-offline', 3],
  ['ssm-agent-online', 1],
  ['scheduled-retirement', 1],
  ['insufficient-capacity', 1],
  ['daemon-hang', 3],
  ['os-hang', 2],
  ['os-recover', 1],
  ['agent-stop', 3],
  ['agent-start', 1],
];

const memberFault: fc.Arbitrary<MemberFault> = fc.oneof(
  ...MEMBER_FAULTS.map(([fault, weight]) => ({ weight, arbitrary: fc.constant(fault) })),
);

/** `arbitrary` with the given probability, else absent (undefined). */
function sometimes<T>(probability: number, arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  const weight = Math.round(probability * 100);
  return fc.oneof({ weight: 100 - weight, arbitrary: fc.constant(undefined) }, { weight, arbitrary });
}

const pairShape = fc.record({
  tables: fc.integer({ min: 1, max: 3 }),
  firstTable: fc.nat(TABLE_POOL - 1),
  destinations: fc.integer({ min: 1, max: 3 }),
  large: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  destinationKind: fc.constantFrom('ipv4', 'ipv4', 'ipv4', 'ipv6', 'prefix-list'),
  probe: fc.constantFrom('strongswan', 'strongswan', 'systemd', 'libreswan', 'none'),
  tunnel: sometimes(0.5, fc.integer({ min: 1, max: 3 })),
  unhealthyThreshold: fc.integer({ min: 1, max: 3 }),
  cooldownSeconds: fc.integer({ min: 30, max: 300 }),
  failbackAfter: sometimes(0.3, fc.integer({ min: 1, max: 3 })),
  elasticIp: fc.boolean(),
  routingEnis: fc.boolean(),
});

type PairShape = typeof pairShape extends fc.Arbitrary<infer T> ? T : never;

/** Times are drawn as per-mille of the part of the scenario faults may fall in, so they shrink towards 0. */
const perMille = fc.integer({ min: 0, max: 1000 });

const faultShape = fc.record({
  at: perMille,
  pair: fc.nat(PAIR_NAMES.length - 1),
  role: fc.constantFrom<Role>('primary', 'standby'),
  fault: memberFault,
  /** seconds until the healing fault, if any */
  healAfter: sometimes(0.6, fc.integer({ min: 5, max: 240 })),
  /** scheduled-retirement: seconds ahead the retirement is announced */
  lead: fc.integer({ min: 30, max: 600 }),
});

const throttlingShape = fc.record({
  at: perMille,
  seconds: fc.integer({ min: 20, max: 240 }),
  rate: fc.constantFrom(0.1, 0.3, 0.5, 0.9),
  member: sometimes(
    0.3,
    fc.record({ pair: fc.nat(PAIR_NAMES.length - 1), role: fc.constantFrom<Role>('primary', 'standby') }),
  ),
});

const stateStoreErrorsShape = fc.record({
  at: perMille,
  seconds: fc.integer({ min: 20, max: 180 }),
  rate: fc.constantFrom(0.2, 0.5, 0.9),
});

const commandShape = fc.record({
  at: perMille,
  pair: fc.nat(PAIR_NAMES.length - 1),
  to: fc.constantFrom<Role>('primary', 'standby'),
  force: fc.boolean(),
  /** a resize instead of a failover: rare, since a resize takes most of a run's real time */
  resize: fc.oneof(
    { weight: 19, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
});

/** A zone-wide loss: every pair's member of one role hit by the same hard fault at one instant. */
const zoneLossShape = fc.record({
  at: perMille,
  role: fc.constantFrom<Role>('primary', 'primary', 'standby'),
  fault: fc.constantFrom<MemberFault>('stop', 'terminate', 'system-impaired'),
  healAfter: sometimes(0.5, fc.integer({ min: 30, max: 240 })),
});

const caseFields = {
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  minutes: fc.integer({ min: 6, max: 12 }),
  pairs: fc.array(pairShape, { minLength: 1, maxLength: PAIR_NAMES.length }),
  fastMode: sometimes(0.15, fc.constantFrom(10, 15, 20)),
  probeTimeout: fc.constantFrom(10, 15, 20),
  faults: fc.array(faultShape, { maxLength: 6 }),
  throttling: fc.oneof(
    { weight: 6, arbitrary: fc.array(throttlingShape, { maxLength: 0 }) },
    { weight: 4, arbitrary: fc.array(throttlingShape, { minLength: 1, maxLength: 2 }) },
  ),
  stateStoreErrors: fc.oneof(
    { weight: 4, arbitrary: fc.array(stateStoreErrorsShape, { maxLength: 0 }) },
    { weight: 1, arbitrary: fc.array(stateStoreErrorsShape, { minLength: 1, maxLength: 2 }) },
  ),
  crashes: sometimes(0.35, fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 3 })),
  commands: fc.oneof(
    { weight: 3, arbitrary: fc.array(commandShape, { maxLength: 0 }) },
    { weight: 2, arbitrary: fc.array(commandShape, { minLength: 1, maxLength: 3 }) },
  ),
  // 1000: unreserved, as the stack deploys the controller; 1-3: an account that reserves concurrency for it.
  reservedConcurrency: fc.constantFrom(1, 2, 3, 1000, 1000),
  zoneLoss: sometimes(0.12, zoneLossShape),
};

const caseShape = fc.record(caseFields);

type CaseShape = typeof caseShape extends fc.Arbitrary<infer T> ? T : never;

function destinationOf(pair: number, k: number, kind: PairShape['destinationKind']): string {
  switch (kind) {
    case 'ipv6':
      return `fd00:${pair + 1}:${k}::/64`;
    case 'prefix-list':
      return `pl-${hex17(0x9000 + 16 * pair + k)}`;
    case 'ipv4':
      return `10.${pair + 1}.${k}.0/24`;
  }
}

function pairDocument(shape: PairShape, index: number): Record<string, unknown> {
  const { tables, destinations } = shape.large ? LARGE : shape;
  const member = (role: Role) => ({
    instanceId: instanceId(index, role),
    ...(shape.routingEnis ? { networkInterfaceId: routingEni(index, role) } : {}),
  });
  const probe =
    shape.probe === 'systemd'
      ? { kind: 'systemd', unit: 'strongswan' }
      : shape.probe === 'none'
        ? { kind: 'none' }
        : { kind: shape.probe, minSas: 1 };
  return {
    name: PAIR_NAMES[index],
    primary: member('primary'),
    standby: member('standby'),
    routeTables: Array.from({ length: tables }, (_, k) => tableId((shape.firstTable + k) % TABLE_POOL)),
    // Every pair has its own destinations, so pairs that share a table never manage the same route.
    destinations: Array.from({ length: destinations }, (_, k) =>
      destinationOf(index, k, k === 0 ? 'ipv4' : shape.destinationKind),
    ),
    probe,
    ...(shape.tunnel !== undefined
      ? {
          tunnel: {
            namespace: 'VpnFailover/Tunnels',
            metricName: 'TunnelUp',
            period: 60,
            datapointsToBreach: shape.tunnel,
          },
        }
      : {}),
    unhealthyThreshold: shape.unhealthyThreshold,
    cooldown: `${shape.cooldownSeconds}s`,
    ...(shape.failbackAfter !== undefined
      ? { failback: 'automatic', failbackAfter: shape.failbackAfter }
      : {}),
    ...(shape.elasticIp ? { elasticIp: { allocationId: `eipalloc-${hex17(0xf00 + index)}` } } : {}),
  };
}

/** The scenario document of a generated shape; faults fall in the first 60 % of the scenario. */
function documentOf(shape: CaseShape): ScenarioDocument {
  // Fast mode runs the controller every few seconds, which costs several times more real time: keep it short.
  const minutes = shape.fastMode === undefined ? shape.minutes : 6 + (shape.minutes % 3);
  const duration = minutes * 60;
  const window = Math.floor(duration * 0.6);
  const time = (perMilleAt: number) => Math.floor((perMilleAt / 1000) * window);
  const pairs = shape.pairs.length;
  const target = (pair: number, role: Role) => `${PAIR_NAMES[pair % pairs]}/${role}`;
  const zoneLoss = shape.zoneLoss;
  const zoneFaults =
    zoneLoss === undefined
      ? []
      : shape.pairs.map((_, pair) => ({
          pair,
          role: zoneLoss.role,
          fault: zoneLoss.fault,
          at: zoneLoss.at,
          healAfter: zoneLoss.healAfter,
          lead: 0,
        }));
  // systemctl still reads a hung daemon `active` (sim/probe-script.ts), but the ground truth records the hang only as a
  // daemon fault, which the invariants take the systemd probe to see: under that probe the daemon goes down instead.
  const kindOf = (f: { pair: number; fault: MemberFault }): MemberFault =>
    f.fault === 'daemon-hang' && shape.pairs[f.pair % pairs]?.probe === 'systemd' ? 'daemon-down' : f.fault;
  const faults = [...shape.faults, ...zoneFaults].flatMap((f) => {
    const at = time(f.at);
    const first = {
      at,
      target: target(f.pair, f.role),
      fault: kindOf(f),
      ...(f.fault === 'scheduled-retirement' ? { for: `${f.lead}s` } : {}),
    };
    const heal = HEALS[kindOf(f)];
    if (heal === undefined || f.healAfter === undefined) return [first];
    return [first, { at: Math.min(duration, at + f.healAfter), target: target(f.pair, f.role), fault: heal }];
  });
  const throttling = shape.throttling.map((w) => ({
    at: time(w.at),
    target: w.member === undefined ? '*' : target(w.member.pair, w.member.role),
    fault: 'api-throttling',
    rate: w.rate,
    for: `${w.seconds}s`,
  }));
  const stateStoreErrors = shape.stateStoreErrors.map((w) => ({
    at: time(w.at),
    target: '*',
    fault: 'state-store-errors',
    rate: w.rate,
    for: `${w.seconds}s`,
  }));
  const crashes = shape.crashes;
  return {
    name: 'generated fault schedule',
    seed: shape.seed,
    duration: `${minutes}m`,
    ...(crashes !== undefined ? { crashAfterRouteWrites: crashes.length === 1 ? crashes[0] : crashes } : {}),
    config: {
      pairs: shape.pairs.map(pairDocument),
      controller: {
        schedule: '1m',
        fastMode:
          shape.fastMode === undefined
            ? { enabled: false }
            : { enabled: true, interval: `${shape.fastMode}s` },
        probeTimeout: `${shape.probeTimeout}s`,
      },
    },
    faults: [...faults, ...throttling, ...stateStoreErrors].sort((a, b) => a.at - b.at),
    commands: shape.commands.map((c) =>
      c.resize
        ? { at: time(c.at), command: 'resize', pair: PAIR_NAMES[c.pair % pairs], instanceType: 'c6in.xlarge' }
        : {
            at: time(c.at),
            command: 'failover',
            pair: PAIR_NAMES[c.pair % pairs],
            to: c.to,
            ...(c.force ? { force: true } : {}),
          },
    ),
  };
}

/** A scenario document as a YAML file a user can save and re-run. */
export function scenarioYaml(document: ScenarioDocument, reservedConcurrency = 1): string {
  return [
    '# Re-run: save this as scenario.yaml, then',
    '#   npm run vpn-failover -- simulate --scenario scenario.yaml',
    ...(reservedConcurrency > 1
      ? [`# with runScenario's reservedConcurrency: ${reservedConcurrency} (overlapping invocations)`]
      : []),
    stringify(document),
  ].join('\n');
}

/** Build a case from a document: validates it (a generator bug shows as a thrown InputError). */
export function chaosCaseOf(document: ScenarioDocument, reservedConcurrency = 1): ChaosCase {
  const scenario = parseScenario(document);
  return {
    document,
    scenario,
    reservedConcurrency,
    [fc.toStringMethod]: () => `\n${scenarioYaml(document, reservedConcurrency)}`,
  };
}

/** Random fault schedules over one to three pairs (module comment). */
export const chaosCase: fc.Arbitrary<ChaosCase> = caseShape.map((shape) =>
  chaosCaseOf(documentOf(shape), shape.reservedConcurrency),
);

/** A soft fault (the daemon or the tunnel) that heals: what the streak and failback rules are about. */
const softFault = fc.record({
  fault: fc.constantFrom<MemberFault>('daemon-down', 'tunnel-down'),
  healAfter: fc.integer({ min: 20, max: 90 }),
});

/**
 * Schedules aimed at the situations the random mix reaches least often, each still random around them:
 * - a zone-wide loss of every primary (traffic must move in time, the Elastic IP with it);
 * - both members of the first pair lost, one after the other (an alarm, and no move to a dead member);
 * - the first pair's primary failing softly and recovering, with automatic failback (which waits for the
 *   cooldown).
 * The rest of the schedule (throttling, state-table errors, crashes, commands, concurrency) is drawn as usual.
 */
export const targetedCase: fc.Arbitrary<ChaosCase> = fc
  .oneof(
    fc.record({
      ...caseFields,
      zoneLoss: zoneLossShape.map((loss) => ({ ...loss, role: 'primary' as Role })),
    }),
    fc
      .record({
        ...caseFields,
        lost: fc.record({
          at: fc.integer({ min: 0, max: 500 }),
          after: fc.integer({ min: 0, max: 400 }),
          first: fc.constantFrom<Role>('primary', 'standby'),
          fault: fc.constantFrom<MemberFault>('stop', 'terminate', 'system-impaired', 'daemon-down'),
        }),
      })
      .map(({ lost, ...shape }) => ({
        ...shape,
        faults: [
          ...shape.faults,
          ...(['primary', 'standby'] as const).map((role) => ({
            at: role === lost.first ? lost.at : lost.at + lost.after,
            pair: 0,
            role,
            fault: lost.fault,
            healAfter: undefined,
            lead: 0,
          })),
        ],
      })),
    fc
      .record({
        ...caseFields,
        flap: fc.record({ at: fc.integer({ min: 0, max: 600 }), fault: softFault }),
        failbackAfter: fc.integer({ min: 1, max: 3 }),
      })
      .map(({ flap, failbackAfter, ...shape }) => ({
        ...shape,
        // The first pair's probe sees the daemon, and the fault lasts long enough for its streak to complete.
        pairs: shape.pairs.map((pair, i) =>
          i === 0 ? { ...pair, probe: 'strongswan' as const, large: false, failbackAfter } : pair,
        ),
        // Nothing else fails and no operator steps in, so that the move back is the automatic failback.
        zoneLoss: undefined,
        commands: [],
        faults: [
          {
            fault: flap.fault.fault,
            healAfter: flap.fault.healAfter + 70 * (shape.pairs[0]?.unhealthyThreshold ?? 1),
            at: flap.at,
            pair: 0,
            role: 'primary' as Role,
            lead: 0,
          },
        ],
      })),
  )
  .map((shape) => chaosCaseOf(documentOf(shape), shape.reservedConcurrency));

const agentFault = fc.constantFrom<MemberFault>('agent-stop', 'agent-stop', 'agent-start');

/**
 * Schedules in which only member agents stop and start (some for good, some restarted later), on any member of
 * one to three pairs, in economy or fast mode, and nothing else happens: nothing may move.
 */
export const agentOnlyCase: fc.Arbitrary<ChaosCase> = fc
  .record({
    shape: caseShape,
    faults: fc.array(fc.record({ fault: agentFault, fault2: faultShape }), { minLength: 1, maxLength: 6 }),
  })
  .map(({ shape, faults }) =>
    chaosCaseOf(
      documentOf({
        ...shape,
        faults: faults.map(({ fault, fault2 }) => ({ ...fault2, fault })),
        throttling: [],
        stateStoreErrors: [],
        crashes: undefined,
        commands: [],
        zoneLoss: undefined,
      }),
      shape.reservedConcurrency,
    ),
  );
