import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  getArgumentValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isCompositeType,
  isListType,
  isObjectType,
  Kind,
  SchemaMetaFieldDef,
  type SelectionSetNode,
  TypeMetaFieldDef,
} from 'graphql';
import type { Authorizer, TenantPrincipal } from '../authz/index.ts';
import { PalisadeError, type ProblemDetail } from '../errors/index.ts';
import { type Check, decide, resourceOfArguments } from './field-authorization.ts';
import { INTROSPECTION_PERMISSION, type RuleTable, type SizeLimits } from './field-rules.ts';

/** The limits an operation must stay within; settings `graphqlDepthMax` and `graphqlCostMax`. */
export interface OperationLimits extends SizeLimits {
  readonly depthMax: number;
  readonly costMax: number;
}

interface Measure {
  /** The deepest field nesting below the selection set. */
  readonly depth: number;
  readonly cost: number;
  /** The most store operations (acting fields run) it may take. */
  readonly operations: number;
}

const NOTHING: Measure = { depth: 0, cost: 0, operations: 0 };

/**
 * Checks a validated operation before anything runs: every field it selects must be allowed
 * to the caller (deny by default: a field without a rule is refused), and its depth and cost
 * must be within the limits; depth and cost are checked first, so an operation over them asks
 * for no authorization decision. A refused operation runs no resolver, so a mutation is never
 * half done for lack of a permission. Fields under `@skip`/`@include` count as selected.
 *
 * Cost: each field that acts (reads or writes the store) and each object a field answers
 * counts 1, scalar properties 0, and a field that repeats its selection (a page's `limit`, a
 * range's `end - start`) multiplies the cost of what it selects. Introspection (`__schema`,
 * `__type`) takes `graphql:introspect` and is costed alike, each of its lists counting as many
 * items as the schema can answer (`introspectionSizes`); it counts no depth, as graphql-js
 * bounds how deep it nests. `__typename` is free.
 *
 * Answers how many store operations the operation may take at most: each acting field once,
 * times the sizes of the lists around it (what its request is then charged).
 */
export async function guardOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  rawVariables: Record<string, unknown> | undefined,
  context: { readonly principal: TenantPrincipal; readonly operationName: string | undefined },
  authorizer: Authorizer,
  rules: RuleTable,
  introspection: ReadonlyMap<string, number>,
  limits: OperationLimits,
): Promise<number> {
  const { principal, operationName } = context;
  const operation = getOperationAST(document, operationName);
  if (operation === null || operation === undefined)
    throw new PalisadeError(
      'PALISADE_GRAPHQL_INVALID',
      operationName === undefined
        ? 'the document has several operations: name the one to run in operationName'
        : `the document has no operation ${JSON.stringify(operationName)}`,
    );
  const root = schema.getRootType(operation.operation);
  if (root === undefined || root === null)
    throw new PalisadeError(
      'PALISADE_GRAPHQL_INVALID',
      `the schema has no ${operation.operation} operations`,
    );
  const coerced = getVariableValues(
    schema,
    operation.variableDefinitions ?? [],
    rawVariables ?? {},
  );
  if (coerced.errors !== undefined)
    throw new PalisadeError(
      'PALISADE_GRAPHQL_INVALID',
      coerced.errors.map((error) => error.message).join('; '),
    );
  const variables = coerced.coerced;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions)
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  const measured = new Map<string, Measure>();
  const denied: ProblemDetail[] = [];
  const checks: Check[] = [];
  const tenantId = principal.context.tenantId;

  const measure = (selectionSet: SelectionSetNode, type: GraphQLCompositeType): Measure => {
    let depth = 0;
    let cost = 0;
    let operations = 0;
    for (const selection of selectionSet.selections) {
      let inner: Measure;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name === '__typename') continue;
        if (name === '__schema' || name === '__type' || type.name.startsWith('__')) {
          cost += introspected(selection, type);
          continue;
        }
        const path = `${type.name}.${name}`;
        const rule = rules[type.name]?.[name];
        const field = isObjectType(type) ? type.getFields()[name] : undefined;
        if (rule === undefined || field === undefined) {
          denied.push({ path, message: 'has no permission rule' });
          continue;
        }
        // Properties take no arguments that matter: only acting fields name resources and sizes.
        const args = 'property' in rule ? {} : getArgumentValues(field, selection, variables);
        if ('property' in rule) {
          if (!rule.property.some((p) => principal.permissions.has(p)))
            denied.push({ path, message: `needs ${rule.property.join(' or ')}` });
        } else if (rule.resourceFromParent) {
          // Cedar decides in the resolver, on the parent; the roles decide here.
          if (!principal.permissions.has(rule.permission))
            denied.push({ path, message: `needs ${rule.permission}` });
        } else {
          const also = rule.alsoIf === undefined || rule.alsoIf(args) ? rule.also : undefined;
          for (const permission of [rule.permission, also]) {
            if (permission === undefined) continue;
            const resource = resourceOfArguments(tenantId, permission, args);
            checks.push({ path, permission, resource });
          }
        }
        const named = getNamedType(field.type);
        const below =
          selection.selectionSet !== undefined && isCompositeType(named)
            ? measure(selection.selectionSet, named)
            : NOTHING;
        const size = 'size' in rule && rule.size !== undefined ? rule.size(args, limits) : 1;
        const acts = 'property' in rule ? 0 : 1;
        inner = {
          depth: below.depth + 1,
          cost: size * ((isObjectType(named) || acts === 1 ? 1 : 0) + below.cost),
          operations: acts + size * below.operations,
        };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition?.name.value;
        const narrowed = condition === undefined ? type : schema.getType(condition);
        inner = isCompositeType(narrowed) ? measure(selection.selectionSet, narrowed) : NOTHING;
      } else {
        inner = spread(selection.name.value);
      }
      if (inner.depth > limits.depthMax) throw tooDeep(inner.depth, limits.depthMax);
      depth = Math.max(depth, inner.depth);
      cost += inner.cost;
      operations += inner.operations;
    }
    return { depth, cost, operations };
  };

  // Only `__schema` and `__type` lead to the introspection types, so their permission covers all.
  const introspected = (selection: FieldNode, type: GraphQLCompositeType): number => {
    const name = selection.name.value;
    if (
      (name === '__schema' || name === '__type') &&
      !principal.permissions.has(INTROSPECTION_PERMISSION)
    ) {
      denied.push({ path: name, message: `needs ${INTROSPECTION_PERMISSION}` });
      return 0;
    }
    const field =
      name === '__schema'
        ? SchemaMetaFieldDef
        : name === '__type'
          ? TypeMetaFieldDef
          : isObjectType(type)
            ? type.getFields()[name]
            : undefined;
    if (field === undefined) return 0;
    const named = getNamedType(field.type);
    const below =
      selection.selectionSet !== undefined && isCompositeType(named)
        ? measure(selection.selectionSet, named).cost
        : 0;
    const size = isListType(getNullableType(field.type)) ? (introspection.get(name) ?? 1) : 1;
    return size * ((isObjectType(named) ? 1 : 0) + below);
  };

  // A fragment is measured once, however often it is spread: spreads cannot multiply the work.
  const spread = (name: string): Measure => {
    const known = measured.get(name);
    if (known !== undefined) return known;
    const fragment = fragments.get(name)!;
    const type = schema.getType(fragment.typeCondition.name.value);
    const result = isCompositeType(type) ? measure(fragment.selectionSet, type) : NOTHING;
    measured.set(name, result);
    return result;
  };

  const total = measure(operation.selectionSet, root);
  // The cost first: a refused operation costs no Cedar evaluation nor policy-set load.
  if (total.cost > limits.costMax)
    throw new PalisadeError(
      'PALISADE_GRAPHQL_TOO_COSTLY',
      `the operation costs ${total.cost}, over the limit of ${limits.costMax}: ask for smaller pages or fewer nested lists`,
    );
  await decide(checks, principal, authorizer, denied);
  if (denied.length > 0)
    throw new PalisadeError(
      'PALISADE_FORBIDDEN',
      `the credential may not run this operation: ${denied
        .map((d) => `${d.path} ${d.message}`)
        .join('; ')}`,
      denied,
    );
  return total.operations;
}

function tooDeep(depth: number, max: number): PalisadeError {
  return new PalisadeError(
    'PALISADE_GRAPHQL_TOO_DEEP',
    `the operation nests fields ${depth} deep, over the limit of ${max}: split it into shallower operations`,
  );
}
