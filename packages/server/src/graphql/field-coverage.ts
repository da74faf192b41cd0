import { type GraphQLSchema, isObjectType } from 'graphql';
import type { RuleTable } from './field-rules.ts';

/** Every `Type.field` of the schema's object types, introspection types aside. */
export function schemaFields(schema: GraphQLSchema): string[] {
  return Object.values(schema.getTypeMap())
    .filter((type) => isObjectType(type) && !type.name.startsWith('__'))
    .flatMap((type) =>
      isObjectType(type)
        ? Object.keys(type.getFields()).map((field) => `${type.name}.${field}`)
        : [],
    );
}

/**
 * Refuses to serve a schema with a field that names no permission, or rules for fields the
 * schema does not have (a renamed field must not keep a stale rule).
 */
export function checkFieldRules(schema: GraphQLSchema, rules: RuleTable): void {
  const fields = schemaFields(schema);
  const ruled = Object.entries(rules).flatMap(([type, rules]) =>
    Object.keys(rules).map((field) => `${type}.${field}`),
  );
  const unruled = fields.filter((field) => !ruled.includes(field));
  const stale = ruled.filter((field) => !fields.includes(field));
  if (unruled.length > 0 || stale.length > 0)
    throw new Error(
      `GraphQL field rules out of step with the schema: no rule for [${unruled.join(', ')}], no field for [${stale.join(', ')}]`,
    );
}
