import {
  type GraphQLSchema,
  isAbstractType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
} from 'graphql';

/**
 * The most items each list of the introspection types can answer in `schema`, by field name
 * (`types`, `fields`, `args`…): what the cost limit multiplies an introspection list by, as
 * it multiplies a page by its `limit`. The schema is fixed, so these are exact upper bounds.
 */
export function introspectionSizes(schema: GraphQLSchema): ReadonlyMap<string, number> {
  const types = Object.values(schema.getTypeMap());
  const directives = schema.getDirectives();
  const most = (counts: readonly number[]) => Math.max(0, ...counts);
  const withFields = types.flatMap((t) => (isObjectType(t) || isInterfaceType(t) ? [t] : []));
  const fields = withFields.flatMap((t) => Object.values(t.getFields()));
  return new Map([
    ['types', types.length],
    ['directives', directives.length],
    ['fields', most(withFields.map((t) => Object.keys(t.getFields()).length))],
    ['interfaces', most(withFields.map((t) => t.getInterfaces().length))],
    [
      'possibleTypes',
      most(types.map((t) => (isAbstractType(t) ? schema.getPossibleTypes(t).length : 0))),
    ],
    ['enumValues', most(types.map((t) => (isEnumType(t) ? t.getValues().length : 0)))],
    [
      'inputFields',
      most(types.map((t) => (isInputObjectType(t) ? Object.keys(t.getFields()).length : 0))),
    ],
    ['args', most([...fields, ...directives].map((f) => f.args.length))],
  ]);
}
