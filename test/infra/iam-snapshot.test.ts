import type { Role } from 'aws-cdk-lib/aws-iam';
import { expect, it } from 'vitest';
import { loadConfigFile } from '../../shared/config/file.ts';
import { actionsOf, logicalIdOf, policyStatements, resourcesOf, synthStack } from './test-app.ts';

/**
 * The one snapshot: a tripwire on the controller's permissions for the example configuration, so any change
 * to what the controller may do shows up as a reviewed diff. It holds only the policy (actions, resources with
 * intrinsics rendered readably), not the template, so asset hashes and unrelated resources never churn it;
 * logical ids of the table and document do appear, and renaming those constructs updates it
 * (`npx vitest run -u test/infra/iam-snapshot.test.ts`). The invariants themselves are asserted in
 * controller.test.ts.
 */
it("the controller's permissions for the example configuration are unchanged", () => {
  const { template, stack } = synthStack(loadConfigFile('examples/pairs.yaml'));
  const roleId = logicalIdOf(stack, stack.controller.controller.role as Role);
  const policy = policyStatements(template)
    .filter((s) =>
      JSON.stringify(template.toJSON().Resources[s.policy]?.Properties?.Roles ?? []).includes(roleId),
    )
    .map((s) => ({ sid: s.Sid ?? null, actions: actionsOf(s).sort(), resources: resourcesOf(s).sort() }));
  expect(policy).toMatchSnapshot();
});
