import { App } from 'aws-cdk-lib';
import { InputError } from '../../shared/errors.ts';
import { buildApp } from '../app.ts';

// The CDK app (cdk.json: "node infra/bin/app.ts"). An invalid configuration fails synth with every problem
// listed by its path, and nothing is bundled.
const app = new App();
try {
  buildApp(app);
} catch (error) {
  if (!(error instanceof InputError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
app.synth();
