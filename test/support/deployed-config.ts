import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../shared/config/file.ts';
import { deployedConfigJson } from '../../shared/config/load.ts';

/**
 * The example configuration as a Lambda bundle carries it (validated JSON, what ENV.configPath names in the
 * deployed function), written once to a temporary file.
 */
export const DEPLOYED_EXAMPLE_CONFIG = join(
  mkdtempSync(join(tmpdir(), 'vpn-failover-deployed-')),
  'config.json',
);
writeFileSync(DEPLOYED_EXAMPLE_CONFIG, deployedConfigJson(loadConfigFile('examples/pairs.yaml')));
