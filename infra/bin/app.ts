import { App } from 'aws-cdk-lib';
import { InputError } from '../../shared/errors.ts';
import { buildApp, ConfigNotNamedError } from '../app.ts';

// The CDK app (cdk.json: "node infra/bin/app.ts"). A missing `-c config=FILE` fails synth with one line, an
// invalid configuration with every problem listed by its path; either way nothing is bundled.
const app = new App();
try {
  buildApp(app);
} catch (error) {
  if (!(error instanceof InputError || error instanceof ConfigNotNamedError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
app.synth();
