import { parse as parseYaml } from 'yaml';
import { InputError } from '../errors.ts';
import { fileError, parseConfig, readTextFile } from './load.ts';
import type { Config } from './schema.ts';

/*
 * Reading the files people write (configuration, scenarios), JSON or YAML. Apart from load.ts so that the
 * Lambdas, which read only the deployed JSON, do not bundle the YAML parser.
 */

/** Parse JSON or YAML text (YAML is a superset of JSON); an empty document is refused as such. */
export function parseDocument(text: string, what: string): unknown {
  let document: unknown;
  try {
    document = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    throw new InputError(
      what,
      [{ path: '', message: `not valid YAML or JSON: ${(error as Error).message}` }],
      { cause: error },
    );
  }
  // YAML reads an empty file, or one of only comments, as null.
  if (document === null || document === undefined) throw fileError(what, 'the file is empty');
  return document;
}

/** Read and parse a JSON or YAML file; a missing or unreadable file is one line naming the file. */
export function readDocumentFile(path: string, what: string): unknown {
  return parseDocument(readTextFile(path, what), what);
}

/** Read, parse and validate a configuration file. */
export function loadConfigFile(path: string): Config {
  const what = `configuration ${path}`;
  return parseConfig(readDocumentFile(path, what), what);
}
