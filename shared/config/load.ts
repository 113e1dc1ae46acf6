import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { InputError, type InputProblem } from '../errors.ts';
import { type Config, configSchema } from './schema.ts';

/** The configuration used when none is named: the example (cdk synth, the CLI, the demo). */
export const DEFAULT_CONFIG_PATH = 'examples/pairs.yaml';

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

/** Validate an already parsed document; throws InputError listing every problem. */
export function parseConfig(document: unknown, what = 'configuration'): Config {
  const result = configSchema.safeParse(document);
  if (!result.success) throw new InputError(what, problemsOf(result.error));
  return result.data;
}

/** Parse JSON or YAML text (YAML is a superset of JSON). */
export function parseDocument(text: string, what: string): unknown {
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (error) {
    throw new InputError(what, [
      { path: '', message: `not valid YAML or JSON: ${(error as Error).message}` },
    ]);
  }
}

/** Read, parse and validate a configuration file. */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InputError(`configuration ${path}`, [{ path: '', message: (error as Error).message }]);
  }
  return parseConfig(parseDocument(text, `configuration ${path}`), `configuration ${path}`);
}
