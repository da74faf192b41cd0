export { schemaFields } from './field-coverage.ts';
export { FIELD_RULES, type FieldRule, INTROSPECTION_PERMISSION } from './field-rules.ts';
export type { GraphqlServices } from './graphql-context.ts';
export {
  type GraphqlAnswer,
  GraphqlEndpoint,
  type GraphqlOptions,
  type GraphqlRequest,
} from './graphql-endpoint.ts';
export { PersistedQueries } from './persisted-queries.ts';
