import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type * as z from 'zod';
import { InputError, type InputProblem } from '../errors.ts';
import { type Config, configSchema } from './schema.ts';

/** The configuration the CLI's validate, simulate and resize use when none is named: the example. */
export const DEFAULT_CONFIG_PATH = 'examples/pairs.yaml';

/** A validated configuration exactly as deployed: the Lambda bundle's config.json. */
export function deployedConfigJson(config: Config): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * The first 16 hex digits of the sha256 of {@link deployedConfigJson}: the stack output ConfigHash, which tells
 * whether a deployed stack runs the configuration a file validates to.
 */
export function configHash(config: Config): string {
  return createHash('sha256').update(deployedConfigJson(config)).digest('hex').slice(0, 16);
}

/** "pairs[1].standby.instanceId" from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => {
    if (typeof key === 'number') return `${acc}[${key}]`;
    return acc === '' ? String(key) : `${acc}.${String(key)}`;
  }, '');
}

/** Every zod issue as an InputProblem, unions flattened to their most specific branch. */
export function problemsOf(error: z.ZodError, prefix: readonly PropertyKey[] = []): InputProblem[] {
  return error.issues.map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message,
  }));
}

/** Levenshtein distance, case-insensitive: how far a misspelt key is from an allowed one. */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      const substitution = (previous[j - 1] as number) + (x[i - 1] === y[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[y.length] as number;
}

/** The allowed key or value closest to a misspelt one, when it is close enough to be what was meant. */
export function closest(key: string, allowed: readonly string[]): string | undefined {
  // A third of the key's length catches a dropped, doubled or swapped letter without matching unrelated words;
  // a short key must keep at least one of its letters.
  const tolerance = Math.min(Math.max(2, Math.floor(key.length / 3)), key.length - 1);
  let best: { key: string; distance: number } | undefined;
  for (const candidate of allowed) {
    const distance = editDistance(key, candidate);
    if (distance <= tolerance && (best === undefined || distance < best.distance)) {
      best = { key: candidate, distance };
    }
  }
  return best?.key;
}

const quoted = (values: readonly unknown[]): string => values.map((v) => JSON.stringify(v)).join(', ');

/** "; did you mean "daemon-down"?" for a misspelt string among allowed ones, else nothing. */
export function didYouMean(given: unknown, allowed: readonly unknown[]): string {
  if (typeof given !== 'string') return '';
  const near = closest(
    given,
    allowed.filter((v): v is string => typeof v === 'string'),
  );
  return near === undefined ? '' : `; did you mean ${JSON.stringify(near)}?`;
}

/** The keys an object schema accepts, read from the schema that reported the issue. */
function allowedKeys(inst: unknown): string[] {
  const shape = (inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def
    ?.shape;
  return shape === undefined ? [] : Object.keys(shape);
}

/**
 * Messages for the issues whose schema gives none of its own: an unknown key names the key and the closest
 * allowed one ("did you mean"), else every allowed key; a value outside an enum is shown with the allowed values.
 * Messages written in a schema win over these.
 */
const inputErrorMap: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeys(issue.inst);
    return issue.keys
      .map((key) => {
        const near = closest(key, allowed);
        if (near !== undefined)
          return `unknown key ${JSON.stringify(key)}; did you mean ${JSON.stringify(near)}?`;
        return `unknown key ${JSON.stringify(key)} (allowed: ${quoted(allowed)})`;
      })
      .join('; ');
  }
  if (issue.code === 'invalid_value') {
    const got = JSON.stringify(issue.input) ?? String(issue.input);
    return `expected one of ${quoted(issue.values)} (got ${got})${didYouMean(issue.input, issue.values)}`;
  }
  return undefined;
};

/** Validate a document against a schema with the messages above; the problems, or the parsed value. */
export function parseInput<T extends z.ZodType>(
  schema: T,
  document: unknown,
  prefix: readonly PropertyKey[] = [],
): { success: true; data: z.output<T> } | { success: false; problems: InputProblem[] } {
  const result = schema.safeParse(document, { error: inputErrorMap });
  return result.success
    ? { success: true, data: result.data }
    : { success: false, problems: problemsOf(result.error, prefix) };
}

/** Validate an already parsed document; throws InputError listing every problem. */
export function parseConfig(document: unknown, what = 'configuration'): Config {
  const result = parseInput(configSchema, document);
  if (!result.success) throw new InputError(what, result.problems);
  return result.data;
}

/** A problem with a file as a whole (missing, empty, not parseable), as one line rather than a list. */
export function fileError(what: string, message: string, options?: ErrorOptions): InputError {
  const error = new InputError(what, [{ path: '', message }], options);
  error.message = `invalid ${what}: ${message}`;
  return error;
}

/** Read a text file; a missing or unreadable file is one line naming the file. */
export function readTextFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'this is a directory, not a file'
          : code === 'EACCES'
            ? 'permission denied'
            : (error as Error).message;
    throw fileError(what, message, { cause: error });
  }
}

/**
 * Read and validate the configuration a Lambda bundle carries ({@link deployedConfigJson}). JSON only: the
 * Lambdas never read YAML, so the YAML parser stays out of their bundles (shared/config/file.ts reads user files).
 */
export function loadDeployedConfig(path: string): Config {
  const what = `deployed configuration ${path}`;
  const text = readTextFile(path, what);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    // V8 quotes the offending text, newlines included; the error stays one line.
    throw fileError(what, `not valid JSON: ${(error as Error).message.replace(/\s+/g, ' ')}`, {
      cause: error,
    });
  }
  return parseConfig(document, what);
}
