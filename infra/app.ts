import { type App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type AppSettings, appSettings } from './context.ts';
import { VpnFailoverStack } from './stack.ts';

/**
 * Build the app from its context: load and validate the configuration (an invalid file throws InputError
 * listing every problem, before any asset is bundled), add the stack and, unless disabled, cdk-nag. Without a
 * `config` in the context it throws ConfigNotNamedError. `settings` are the ones already read from the same
 * context, if any (infra/bin/app.ts reads them before loading the CDK).
 */
export function buildApp(
  app: App,
  settings: AppSettings = appSettings((key) => app.node.tryGetContext(key)),
): VpnFailoverStack {
  const { stackName, recoverMembers, retainData, nag, config } = settings;
  const stack = new VpnFailoverStack(app, stackName, {
    config,
    controller: { recoverMembers, removalPolicy: retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY },
  });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
