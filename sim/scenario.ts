import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { readDocumentFile } from '../shared/config/file.ts';
import { didYouMean, formatPath, parseInput } from '../shared/config/load.ts';
import { type Config, configSchema, durationText, shown, toSeconds } from '../shared/config/schema.ts';
import { PAUSE_MIN_SECONDS, pauseDuration, pauseReason } from '../shared/controller/events.ts';
import type { Role } from '../shared/domain/types.ts';
import { InputError, type InputProblem } from '../shared/errors.ts';
import { FAULT_KINDS, type FaultKind, type RouteFault } from './faults.ts';

/**
 * The scenario file of `vpn-failover simulate` (docs/simulator.md#scenario-files): a configuration (inline or a
 * file relative to the scenario), a virtual duration, faults at given times and operator commands. Every problem is
 * reported with its path; nested configuration problems are prefixed `config.`.
 */

/**
 * A fault's target: one member, that member of every pair at the same instant (`pair` is EVERY_PAIR: a
 * zone-wide loss), or every call (`*`, api-throttling only). api-throttling on a member throttles the simulated
 * calls that name it (its instance id or one of its ENIs).
 */
export type FaultTarget = { readonly pair: string; readonly role: Role } | '*';

/** The `pair` of a fault target that means every pair: the target `*` followed by `/primary` or `/standby`. */
export const EVERY_PAIR = '*';

/** One fault of a scenario; times in seconds from the start. */
export type ScenarioFault =
  | {
      readonly at: number;
      readonly target: FaultTarget;
      readonly fault: Exclude<FaultKind, RouteFault>;
      /** api-throttling, state-store-errors: the share of calls throttled or failed, 0..1 */
      readonly rate?: number;
      /** api-throttling, state-store-errors: how long it lasts; scheduled-retirement: how far ahead the retirement is (seconds) */
      readonly for?: number;
    }
  | {
      readonly at: number;
      /** the pair whose managed route is pointed elsewhere */
      readonly target: { readonly pair: string };
      readonly fault: RouteFault;
      readonly routeTable: string;
      readonly destination: string;
      readonly rate?: never;
      readonly for?: never;
    };

/** One operator command of a scenario. */
export type ScenarioCommand =
  | {
      readonly at: number;
      readonly command: 'failover';
      readonly pair: string;
      readonly to: Role;
      /** skip the target-health and maintenance-lease checks, as `vpn-failover failover --force` */
      readonly force?: boolean;
    }
  | { readonly at: number; readonly command: 'resize'; readonly pair: string; readonly instanceType: string }
  | {
      readonly at: number;
      /** hold the pair's automatic moves, as `vpn-failover pause` */
      readonly command: 'pause';
      readonly pair: string;
      /** seconds */
      readonly for: number;
      readonly reason?: string;
    }
  | { readonly at: number; readonly command: 'resume'; readonly pair: string };

/** The scenario commands. */
export const COMMANDS = ['failover', 'resize', 'pause', 'resume'] as const;

/** A validated scenario. */
export interface Scenario {
  readonly name: string;
  readonly config: Config;
  /** virtual seconds */
  readonly duration: number;
  /** the seed the file asks for (the CLI's --seed wins) */
  readonly seed?: number;
  /**
   * The first controller invocation that attempts a route write (ReplaceRoute or CreateRoute) after this many
   * dies, as a crashed Lambda would; the next trigger has to finish the job. A list crashes one invocation per
   * entry, in order. Absent: no crash.
   */
  readonly crashAfterRouteWrites?: number | readonly number[];
  readonly faults: readonly ScenarioFault[];
  readonly commands: readonly ScenarioCommand[];
}

/** A duration: "90s", "2m", "1h" or a number of seconds. */
const duration = durationText.transform(toSeconds);

/**
 * The longest scenario: seven days of virtual time is already some ten thousand scheduled controller runs; a
 * longer one (a typo such as 100000h) would keep the simulator busy for hours with nothing on screen.
 */
export const MAX_SCENARIO_SECONDS = 7 * 86400;

const formatDays = (seconds: number): string => `${Number((seconds / 86400).toFixed(1))} days`;

const TARGET = /^(\*|[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?)\/(primary|standby)$/;
const PAIR_TARGET = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;

const fault = z
  .strictObject({
    at: duration,
    target: z.string({
      error: (iss) =>
        `expected PAIR/primary, PAIR/standby, */primary, */standby or * (got ${shown(iss.input)})`,
    }),
    fault: z.enum(FAULT_KINDS, {
      error: (iss) =>
        `expected one of ${FAULT_KINDS.join(', ')} (got ${shown(iss.input)})${didYouMean(iss.input, FAULT_KINDS)}`,
    }),
    rate: z
      .number({ error: (iss) => `expected a number from 0 to 1 (got ${shown(iss.input)})` })
      .min(0)
      .max(1)
      .optional(),
    for: duration.optional(),
    routeTable: z
      .string({ error: (iss) => `expected a route table id (got ${shown(iss.input)})` })
      .optional(),
    destination: z.string({ error: (iss) => `expected a destination (got ${shown(iss.input)})` }).optional(),
  })
  .superRefine((f, ctx) => {
    if (f.fault === 'foreign-route') {
      if (!PAIR_TARGET.test(f.target))
        ctx.addIssue({
          code: 'custom',
          path: ['target'],
          message: `foreign-route is aimed at a pair's route: expected PAIR (got ${shown(f.target)})`,
        });
      for (const key of ['routeTable', 'destination'] as const) {
        if (f[key] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `foreign-route needs the ${key} of one of the pair's managed routes`,
          });
      }
      for (const key of ['rate', 'for'] as const) {
        if (f[key] !== undefined)
          ctx.addIssue({ code: 'custom', path: [key], message: `${key} is not for foreign-route` });
      }
      return;
    }
    for (const key of ['routeTable', 'destination'] as const) {
      if (f[key] !== undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} is for foreign-route only` });
    }
    if (f.fault === 'state-store-errors') {
      if (f.target !== '*')
        ctx.addIssue({
          code: 'custom',
          path: ['target'],
          message: `state-store-errors hits the state table: expected * (got ${shown(f.target)})`,
        });
      if (f.rate === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['rate'],
          message: 'state-store-errors needs a rate from 0 to 1',
        });
      if (f.for === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['for'],
          message: 'state-store-errors needs a duration (for: 2m)',
        });
      return;
    }
    const isThrottling = f.fault === 'api-throttling';
    if (f.target === '*' ? !isThrottling : !TARGET.test(f.target)) {
      ctx.addIssue({
        code: 'custom',
        path: ['target'],
        message: isThrottling
          ? `expected PAIR/primary, PAIR/standby, */primary, */standby or * (got ${shown(f.target)})`
          : `expected PAIR/primary, PAIR/standby, */primary or */standby (got ${shown(f.target)})${f.target === '*' ? '; * is for api-throttling only' : ''}`,
      });
    }
    if (isThrottling) {
      if (f.rate === undefined)
        ctx.addIssue({ code: 'custom', path: ['rate'], message: 'api-throttling needs a rate from 0 to 1' });
      if (f.for === undefined)
        ctx.addIssue({ code: 'custom', path: ['for'], message: 'api-throttling needs a duration (for: 2m)' });
    } else {
      if (f.rate !== undefined)
        ctx.addIssue({ code: 'custom', path: ['rate'], message: 'rate is for api-throttling only' });
      if (f.for !== undefined && f.fault !== 'scheduled-retirement') {
        ctx.addIssue({
          code: 'custom',
          path: ['for'],
          message: 'for is for api-throttling and scheduled-retirement only',
        });
      }
    }
  });

const command = z
  .strictObject({
    at: duration,
    command: z.enum(COMMANDS, {
      error: (iss) =>
        `expected failover, resize, pause or resume (got ${shown(iss.input)})${didYouMean(iss.input, COMMANDS)}`,
    }),
    pair: z.string({ error: (iss) => `expected a pair name (got ${shown(iss.input)})` }),
    to: z
      .enum(['primary', 'standby'], {
        error: (iss) =>
          `expected primary or standby (got ${shown(iss.input)})${didYouMean(iss.input, ['primary', 'standby'])}`,
      })
      .optional(),
    force: z.boolean({ error: (iss) => `expected true or false (got ${shown(iss.input)})` }).optional(),
    instanceType: z
      .string({ error: (iss) => `expected an instance type like c6in.xlarge (got ${shown(iss.input)})` })
      .regex(INSTANCE_TYPE, {
        error: (iss) => `expected an instance type like c6in.xlarge (got ${shown(iss.input)})`,
      })
      .optional(),
    for: pauseDuration.optional(),
    reason: pauseReason.optional(),
  })
  .superRefine((c, ctx) => {
    const only = (key: 'to' | 'force' | 'instanceType' | 'for' | 'reason', command: string) => {
      if (c[key] !== undefined && c.command !== command)
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} is for ${command} only` });
    };
    only('to', 'failover');
    only('force', 'failover');
    only('instanceType', 'resize');
    only('for', 'pause');
    only('reason', 'pause');
    if (c.command === 'failover' && c.to === undefined)
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'failover needs to: primary or standby' });
    if (c.command === 'resize' && c.instanceType === undefined)
      ctx.addIssue({ code: 'custom', path: ['instanceType'], message: 'resize needs an instanceType' });
    if (c.command === 'pause' && c.for === undefined)
      ctx.addIssue({ code: 'custom', path: ['for'], message: 'pause needs a duration (for: 2h)' });
  });

const routeWrites = z
  .int({ error: (iss) => `expected a whole number of route writes (got ${shown(iss.input)})` })
  .min(0, { error: (iss) => `expected a whole number of route writes (got ${shown(iss.input)})` });

const scenarioSchema = z.strictObject({
  name: z.string({ error: 'expected the scenario name' }).min(1, { error: 'expected a non-empty name' }),
  config: z.unknown().optional(),
  configFile: z
    .string({ error: (iss) => `expected a file path (got ${shown(iss.input)})` })
    .min(1)
    .optional(),
  /** Default 20m. */
  duration: durationText.default(1200).transform((written, ctx) => {
    const seconds = toSeconds(written, ctx);
    if (seconds === z.NEVER) return seconds;
    if (seconds <= 0) ctx.addIssue({ code: 'custom', message: 'expected a duration longer than 0' });
    if (seconds > MAX_SCENARIO_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        message: `expected at most 7d of virtual time (got ${shown(written)}, ${formatDays(seconds)})`,
      });
    }
    return seconds;
  }),
  seed: z.int({ error: (iss) => `expected an integer (got ${shown(iss.input)})` }).optional(),
  crashAfterRouteWrites: z
    .union([routeWrites, z.array(routeWrites).min(1)], {
      error: (iss) => `expected a whole number of route writes or a list of them (got ${shown(iss.input)})`,
    })
    .optional(),
  faults: z.array(fault, { error: 'expected a list of faults' }).default([]),
  commands: z.array(command, { error: 'expected a list of commands' }).default([]),
});

/** Where a scenario document came from, for relative configFile paths and messages. */
export interface ScenarioSource {
  /** directory configFile is relative to. @default the working directory */
  readonly baseDir?: string;
  /** what the document is, for the error title. @default "scenario" */
  readonly what?: string;
}

/** The configuration a scenario names, with its problems prefixed `config.` (or located at configFile). */
function scenarioConfig(
  data: { config?: unknown; configFile?: string | undefined },
  baseDir: string,
  problems: InputProblem[],
): Config | undefined {
  if (data.config !== undefined && data.configFile !== undefined) {
    problems.push({ path: 'configFile', message: 'give either config or configFile, not both' });
    return undefined;
  }
  let document = data.config;
  if (data.configFile !== undefined) {
    const path = resolve(baseDir, data.configFile);
    try {
      document = readDocumentFile(path, `configuration ${path}`);
    } catch (error) {
      const message =
        error instanceof InputError
          ? (error.problems[0]?.message ?? error.message)
          : (error as Error).message;
      problems.push({ path: 'configFile', message: `cannot read ${data.configFile}: ${message}` });
      return undefined;
    }
  }
  if (document === undefined) {
    problems.push({
      path: 'config',
      message: 'expected a configuration (config: {...}) or configFile: PATH',
    });
    return undefined;
  }
  const parsed = parseInput(configSchema, document, ['config']);
  if (!parsed.success) {
    problems.push(...parsed.problems);
    return undefined;
  }
  return parsed.data;
}

function parseTarget(text: string): FaultTarget {
  if (text === '*') return '*';
  const match = TARGET.exec(text);
  return { pair: match?.[1] ?? '', role: (match?.[2] ?? 'primary') as Role };
}

/** A foreign-route fault, checked against the configuration: the route must be one the pair manages. */
function foreignRoute(
  f: z.infer<typeof fault>,
  i: number,
  config: Config,
  problems: InputProblem[],
): ScenarioFault {
  const at = (key: string) => formatPath(['faults', i, key]);
  const pair = config.pairs.find((p) => p.name === f.target);
  const routeTable = f.routeTable ?? '';
  const destination = f.destination ?? '';
  if (pair === undefined) {
    problems.push({
      path: at('target'),
      message: `unknown pair "${f.target}" (configured: ${config.pairs.map((p) => p.name).join(', ')})`,
    });
  } else {
    if (!pair.routeTables.includes(routeTable))
      problems.push({
        path: at('routeTable'),
        message: `expected one of ${f.target}'s route tables, ${pair.routeTables.join(', ')} (got ${shown(routeTable)})`,
      });
    if (!pair.destinations.some((d) => d.toLowerCase() === destination.toLowerCase()))
      problems.push({
        path: at('destination'),
        message: `expected one of ${f.target}'s destinations, ${pair.destinations.join(', ')} (got ${shown(destination)})`,
      });
  }
  return { at: f.at, target: { pair: f.target }, fault: 'foreign-route', routeTable, destination };
}

/**
 * Validate a parsed scenario document. Throws InputError listing every problem with its path (faults[1].target,
 * config.pairs[0].standby.instanceId...); nothing is returned unless the whole scenario is valid.
 */
export function parseScenario(document: unknown, source: ScenarioSource = {}): Scenario {
  const what = source.what ?? 'scenario';
  const problems: InputProblem[] = [];
  const parsed = parseInput(scenarioSchema, document);
  if (!parsed.success) problems.push(...parsed.problems);
  const raw = (document !== null && typeof document === 'object' ? document : {}) as {
    config?: unknown;
    configFile?: unknown;
  };
  const config = scenarioConfig(
    { config: raw.config, configFile: typeof raw.configFile === 'string' ? raw.configFile : undefined },
    source.baseDir ?? process.cwd(),
    problems,
  );
  if (!parsed.success || config === undefined) throw new InputError(what, problems);

  const scenario = parsed.data;
  const pairs = new Set(config.pairs.map((p) => p.name));
  const configured = [...pairs].join(', ');
  const faults = scenario.faults.map((f, i): ScenarioFault => {
    if (f.at > scenario.duration) {
      problems.push({
        path: formatPath(['faults', i, 'at']),
        message: `${f.at}s is after the scenario ends (${scenario.duration}s)`,
      });
    }
    if (f.fault === 'foreign-route') return foreignRoute(f, i, config, problems);
    const target = parseTarget(f.target);
    if (target !== '*' && target.pair !== EVERY_PAIR && !pairs.has(target.pair)) {
      problems.push({
        path: formatPath(['faults', i, 'target']),
        message: `unknown pair "${target.pair}" (configured: ${configured})`,
      });
    }
    return {
      at: f.at,
      target,
      fault: f.fault,
      ...(f.rate !== undefined ? { rate: f.rate } : {}),
      ...(f.for !== undefined ? { for: f.for } : {}),
    };
  });
  const commands = scenario.commands.map((c, i): ScenarioCommand => {
    if (!pairs.has(c.pair)) {
      problems.push({
        path: formatPath(['commands', i, 'pair']),
        message: `unknown pair "${c.pair}" (configured: ${configured})`,
      });
    }
    if (c.at > scenario.duration) {
      problems.push({
        path: formatPath(['commands', i, 'at']),
        message: `${c.at}s is after the scenario ends (${scenario.duration}s)`,
      });
    }
    switch (c.command) {
      case 'failover':
        return {
          at: c.at,
          command: 'failover',
          pair: c.pair,
          to: c.to ?? 'primary',
          ...(c.force !== undefined ? { force: c.force } : {}),
        };
      case 'resize':
        return { at: c.at, command: 'resize', pair: c.pair, instanceType: c.instanceType ?? '' };
      case 'pause':
        return {
          at: c.at,
          command: 'pause',
          pair: c.pair,
          for: c.for ?? PAUSE_MIN_SECONDS,
          ...(c.reason !== undefined ? { reason: c.reason } : {}),
        };
    }
    return { at: c.at, command: 'resume', pair: c.pair };
  });
  if (problems.length > 0) throw new InputError(what, problems);
  return {
    name: scenario.name,
    config,
    duration: scenario.duration,
    ...(scenario.seed !== undefined ? { seed: scenario.seed } : {}),
    ...(scenario.crashAfterRouteWrites !== undefined
      ? { crashAfterRouteWrites: scenario.crashAfterRouteWrites }
      : {}),
    faults,
    commands,
  };
}

/** Read, parse and validate a scenario file (JSON or YAML); configFile is relative to it. */
export function loadScenarioFile(path: string): Scenario {
  const what = `scenario ${path}`;
  return parseScenario(readDocumentFile(path, what), { baseDir: dirname(resolve(path)), what });
}
