import { InputError } from '../../shared/errors.ts';
import { type AppSettings, appSettings, ConfigNotNamedError, cliContext } from '../context.ts';

// The CDK app (cdk.json: "node infra/bin/app.ts"). A missing `-c config=FILE` fails synth with one line, an
// invalid configuration with every problem listed by its path; either way nothing is bundled. The context and
// the configuration are checked before the CDK loads (most of a second), so such mistakes fail at once.
function exitOnInputError(error: unknown): never {
  if (!(error instanceof InputError || error instanceof ConfigNotNamedError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

let settings: AppSettings;
try {
  settings = appSettings(cliContext());
} catch (error) {
  exitOnInputError(error);
}
const [{ App }, { buildApp }] = await Promise.all([import('aws-cdk-lib'), import('../app.ts')]);
const app = new App();
try {
  buildApp(app, settings);
} catch (error) {
  exitOnInputError(error);
}
app.synth();
