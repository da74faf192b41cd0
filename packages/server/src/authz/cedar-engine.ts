import {
  type Context,
  type DetailedError,
  type EntityJson,
  type EntityUidJson,
  policySetTextToParts,
  preparsePolicySet,
  preparseSchema,
  schemaToText,
  statefulIsAuthorized,
  validate,
} from '@cedar-policy/cedar-wasm/nodejs';
import { PalisadeError, type ProblemDetail } from '../errors/index.ts';
import { CEDAR_NAMESPACE, CEDAR_SCHEMA } from './cedar-schema.ts';

const SCHEMA_NAME = 'palisade';

/**
 * The platform's tenant-isolation rule. A `forbid` overrides every `permit` in Cedar, so no
 * tenant policy can lift it; evaluation errors deny as well (see `evaluate`).
 */
export const TENANT_ISOLATION_POLICY =
  'forbid (principal, action, resource) unless { principal.tenant == resource.tenant };';
const ISOLATION_ID = 'palisade-tenant-isolation';

/** One authorization question, in Cedar's terms. */
export interface CedarRequest {
  readonly principal: EntityUidJson;
  readonly action: string;
  readonly resource: EntityUidJson;
  readonly entities: EntityJson[];
  readonly context: Context;
}

let schemaLoaded = false;

function loadSchema(): void {
  if (schemaLoaded) return;
  const answer = preparseSchema(SCHEMA_NAME, CEDAR_SCHEMA);
  if (answer.type !== 'success')
    throw new Error(`the Palisade Cedar schema does not parse: ${answer.errors[0]?.message}`);
  schemaLoaded = true;
}

/** The schema as Cedar text, for tenants writing policies. */
export function cedarSchemaText(): string {
  const answer = schemaToText(CEDAR_SCHEMA);
  if (answer.type !== 'success') throw new Error('the Palisade Cedar schema does not print');
  return answer.text.replaceAll('__cedar::', '');
}

/** 1-based line and column of a character offset. */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

function detail(text: string, error: DetailedError, policyId?: string): ProblemDetail {
  const at = error.sourceLocations?.[0];
  const where = at === undefined ? '' : ` at ${position(text, at.start)}`;
  const label = at?.label ? ` (${at.label})` : '';
  const help = error.help ? `; ${error.help}` : '';
  return {
    path: `/body/policies${policyId === undefined ? '' : `#${policyId}`}`,
    message: `${error.message}${where}${label}${help}`,
  };
}

/**
 * Cedar checks a policy once per action it may apply to, and names the action in an error on
 * the context, which every action shares: one such error is reported once, without it.
 */
const CONTEXT_OF_ACTION = / in context for [\w:]+::Action::"[^"]*"/;

function invalid(details: ProblemDetail[]): PalisadeError {
  const unique = new Map<string, ProblemDetail>();
  for (const { path, message } of details) {
    const shared = message.replace(CONTEXT_OF_ACTION, ' in context');
    unique.set(`${path}\n${shared}`, { path, message: shared });
  }
  return new PalisadeError(
    'PALISADE_POLICY_INVALID',
    `the policy set does not validate: ${details[0]!.message.replace(CONTEXT_OF_ACTION, ' in context')}`,
    [...unique.values()],
  );
}

/**
 * Parses a tenant's policy set and validates it, strictly, against the Palisade schema.
 * Returns its policies in order (the `n`th is `policy<n>`, as in validation errors);
 * throws PALISADE_POLICY_INVALID with one problem detail per error, each with its line and
 * column.
 */
export function validatePolicies(text: string): string[] {
  const parts = policySetTextToParts(text);
  if (parts.type !== 'success') throw invalid(parts.errors.map((e) => detail(text, e)));
  if (parts.policy_templates.length > 0)
    throw invalid([
      {
        path: '/body/policies',
        message: 'templates (policies with ?principal or ?resource slots) are not supported',
      },
    ]);
  if (parts.policies.length === 0)
    throw invalid([
      {
        path: '/body/policies',
        message: 'the text holds no policy; DELETE /v1/policies removes the policy set',
      },
    ]);
  const answer = validate({
    schema: CEDAR_SCHEMA,
    policies: { staticPolicies: text },
    validationSettings: { mode: 'strict' },
  });
  if (answer.type !== 'success') throw invalid(answer.errors.map((e) => detail(text, e)));
  if (answer.validationErrors.length > 0)
    throw invalid(answer.validationErrors.map((e) => detail(text, e.error, e.policyId)));
  return parts.policies;
}

/**
 * Loads a tenant's validated policies, with the isolation rule, into the engine under `id`
 * (replacing what was there).
 */
export function loadPolicySet(id: string, policies: readonly string[]): void {
  loadSchema();
  const staticPolicies: Record<string, string> = { [ISOLATION_ID]: TENANT_ISOLATION_POLICY };
  policies.forEach((policy, index) => {
    staticPolicies[`policy${index}`] = policy;
  });
  const answer = preparsePolicySet(id, { staticPolicies });
  if (answer.type !== 'success')
    throw new PalisadeError('PALISADE_INTERNAL', `a stored policy set no longer parses: ${id}`);
}

/**
 * Evaluates a request against the policy set loaded under `id`. Deny by default: allowed
 * only when a policy permits, none forbids, and nothing errored (Cedar would skip a policy
 * that errors; a forbid that cannot be evaluated must not turn into a permit).
 */
export function evaluate(id: string, request: CedarRequest): boolean {
  const answer = statefulIsAuthorized({
    principal: request.principal,
    action: { type: `${CEDAR_NAMESPACE}::Action`, id: request.action },
    resource: request.resource,
    context: request.context,
    entities: request.entities,
    preparsedPolicySetId: id,
    preparsedSchemaName: SCHEMA_NAME,
    validateRequest: true,
  });
  return (
    answer.type === 'success' &&
    answer.response.decision === 'allow' &&
    answer.response.diagnostics.errors.length === 0
  );
}
