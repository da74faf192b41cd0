export { checkFieldRules, schemaFields } from './field-coverage.ts';
export {
  CLIENT_FIELD_RULES,
  FIELD_RULES,
  type FieldRule,
  INTROSPECTION_PERMISSION,
  joinRules,
  type RuleTable,
  USER_FIELD_RULES,
} from './field-rules.ts';
export type { GraphqlServices } from './graphql-context.ts';
export {
  type GraphqlAnswer,
  GraphqlEndpoint,
  type GraphqlOptions,
  type GraphqlRequest,
} from './graphql-endpoint.ts';
export { PersistedQueries } from './persisted-queries.ts';
