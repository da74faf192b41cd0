import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { GraphQLError, parse } from 'graphql';
import mercurius from 'mercurius';
import type { TenantPrincipal } from '../authz/index.ts';
import { ERROR_CODES, PalisadeError } from '../errors/index.ts';
import { RateLimitedError, type RateLimitFields, rateLimitHeaders } from '../quotas/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { checkFieldRules } from './field-coverage.ts';
import {
  CLIENT_FIELD_RULES,
  FIELD_RULES,
  joinRules,
  type RuleTable,
  USER_FIELD_RULES,
} from './field-rules.ts';
import type { GraphqlContext, GraphqlServices, OperationMeter } from './graphql-context.ts';
import { type GraphqlErrorBody, graphqlErrors } from './graphql-errors.ts';
import { clientResolvers, userResolvers } from './identity-resolvers.ts';
import { introspectionSizes } from './introspection-sizes.ts';
import { ledgerResolvers } from './ledger-resolvers.ts';
import { Lru } from './lru.ts';
import { guardOperation, type OperationLimits } from './operation-guard.ts';
import { PersistedQueries } from './persisted-queries.ts';
import { recordResolvers } from './record-resolvers.ts';
import { CollectionNameScalar, JSONObjectScalar } from './scalars.ts';
import { CLIENT_TYPE_DEFS, TYPE_DEFS, USER_TYPE_DEFS } from './schema.ts';

/**
 * Query texts remembered as parsing, here and (with their validation) in mercurius's caches
 * of valid and of invalid documents. A parsed query holds about 350 bytes per token, so the
 * two caches hold at most 2 × 64 × `graphqlQueryMaxTokens` × 350 bytes (about 90 MB at the
 * default of 2000 tokens) whatever a tenant sends.
 */
const DOCUMENT_CACHE_MAX = 64;

/** A POST /v1/graphql body, as the route's JSON schema admits it. */
export interface GraphqlRequest {
  readonly query?: string;
  readonly variables?: Record<string, unknown> | null;
  readonly operationName?: string | null;
  readonly extensions?: {
    readonly persistedQuery?: { readonly version: number; readonly sha256Hash: string };
  };
}

/** What to answer: an HTTP status, header fields and a GraphQL response. */
export interface GraphqlAnswer {
  readonly status: number;
  /** Rate-limit fields of the operation's charge, replacing those set at the door. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { readonly data?: unknown; readonly errors?: readonly GraphqlErrorBody[] };
}

export interface GraphqlOptions extends OperationLimits {
  readonly persistedQueriesMax: number;
  /** Most tokens a query may have (`graphqlQueryMaxTokens`). */
  readonly queryMaxTokens: number;
}

/**
 * Runs GraphQL operations for tenant callers on mercurius: parsed and validated (both
 * cached), guarded (permissions, depth, cost) before execution, and resolved by the same
 * services as REST.
 */
export class GraphqlEndpoint {
  readonly #app: FastifyInstance;
  readonly #persisted: PersistedQueries;
  readonly #maxTokens: number;
  readonly #requests: GraphqlServices['requests'];
  readonly #parses = new Lru<true>(DOCUMENT_CACHE_MAX);

  private constructor(
    app: FastifyInstance,
    persisted: PersistedQueries,
    maxTokens: number,
    requests: GraphqlServices['requests'],
  ) {
    this.#app = app;
    this.#persisted = persisted;
    this.#maxTokens = maxTokens;
    this.#requests = requests;
  }

  /** Registers mercurius on `app` (no routes of its own) with the Palisade schema. */
  static async install(
    app: FastifyInstance,
    services: GraphqlServices,
    options: GraphqlOptions,
  ): Promise<GraphqlEndpoint> {
    const records = recordResolvers(services, options.pageSizeMax);
    const ledger = ledgerResolvers(services);
    const { users, clients, authorizer } = services;
    const rules = joinRules([
      FIELD_RULES,
      ...(users === undefined ? [] : [USER_FIELD_RULES]),
      ...(clients === undefined ? [] : [CLIENT_FIELD_RULES]),
    ]);
    await app.register(mercurius, {
      schema: [
        TYPE_DEFS,
        ...(users === undefined ? [] : [USER_TYPE_DEFS]),
        ...(clients === undefined ? [] : [CLIENT_TYPE_DEFS]),
      ],
      resolvers: {
        JSONObject: JSONObjectScalar,
        CollectionName: CollectionNameScalar,
        ...metered(rules, {
          Query: {
            ...records.Query,
            ...ledger.Query,
            ...(users === undefined ? {} : userResolvers(users, authorizer, options.pageSizeMax)),
            ...(clients === undefined
              ? {}
              : clientResolvers(clients, authorizer, options.pageSizeMax)),
          },
          Mutation: records.Mutation,
          Collection: records.Collection,
          Record: ledger.Record,
          Ledger: ledger.Ledger,
        }),
      },
      routes: false,
      graphiql: false,
      cache: DOCUMENT_CACHE_MAX,
      graphql: { parseOptions: { maxTokens: options.queryMaxTokens } },
      // Errors are formatted once, by the endpoint, for thrown and returned ones alike.
      errorFormatter: (execution) => ({ statusCode: 200, response: execution }),
    });
    checkFieldRules(app.graphql.schema, rules);
    const introspection = introspectionSizes(app.graphql.schema);
    app.graphql.addHook('preExecution', async (schema, document, context, variables) => {
      const operations = await guardOperation(
        schema,
        document,
        variables,
        context,
        services.authorizer,
        rules,
        introspection,
        options,
      );
      // The request was charged one at the door; each further store operation is one more.
      if (operations <= 1) return;
      const admitted = services.requests.admitMore(context.principal.context, operations - 1);
      if (admitted instanceof RateLimitedError) throw admitted;
      context.meter.charged = operations - 1;
    });
    return new GraphqlEndpoint(
      app,
      new PersistedQueries(options.persistedQueriesMax),
      options.queryMaxTokens,
      services.requests,
    );
  }

  /** Runs one request for a verified tenant principal; never throws. */
  async run(
    principal: TenantPrincipal,
    request: GraphqlRequest,
    log: FastifyBaseLogger,
  ): Promise<GraphqlAnswer> {
    const meter: OperationMeter = { charged: 0, ran: 0 };
    try {
      const { query, save } = this.#queryOf(principal.context, request);
      const context: GraphqlContext = {
        principal,
        operationName: request.operationName ?? undefined,
        meter,
      };
      const result = await this.#app.graphql(
        this.#parsed(query),
        context,
        request.variables ?? undefined,
        request.operationName ?? undefined,
      );
      save?.();
      return {
        status: 200,
        headers: this.#settle(principal, meter),
        body:
          result.errors === undefined
            ? { data: result.data }
            : {
                data: result.data ?? null,
                errors: result.errors.flatMap((e) => graphqlErrors(e, log)),
              },
      };
    } catch (error) {
      const errors = graphqlErrors(error, log);
      const headers =
        error instanceof RateLimitedError
          ? rateLimitHeaders(error.quota)
          : this.#settle(principal, meter);
      return { status: statusOf(errors), headers, body: { errors } };
    }
  }

  /**
   * Gives back what the operation was charged for store operations it did not run (a page
   * shorter than its limit, fields not reached after an error), and answers the buckets' fields.
   */
  #settle(principal: TenantPrincipal, meter: OperationMeter): Record<string, string> {
    if (meter.charged === 0) return {};
    const unused = meter.charged - Math.min(meter.charged, Math.max(0, meter.ran - 1));
    const fields = this.#requests.refund(principal.context, unused);
    return fields === undefined ? {} : fieldsOf(fields);
  }

  /** The query text to run, from the body or the tenant's persisted queries. */
  #queryOf(tenant: TenantContext, request: GraphqlRequest): { query: string; save?: () => void } {
    const persisted = request.extensions?.persistedQuery;
    if (persisted === undefined) {
      if (request.query === undefined)
        throw new PalisadeError('PALISADE_INVALID_REQUEST', 'send the operation as query', [
          { path: '/body/query', message: 'is required without extensions.persistedQuery' },
        ]);
      return { query: request.query };
    }
    const hash = persisted.sha256Hash;
    if (request.query === undefined) {
      const query = this.#persisted.get(tenant, hash);
      // The exact message is the protocol: Apollo clients resend the query on seeing it.
      if (query === undefined)
        throw new PalisadeError('PALISADE_PERSISTED_QUERY_NOT_FOUND', 'PersistedQueryNotFound');
      return { query };
    }
    const query = request.query;
    if (PersistedQueries.hashOf(query) !== hash)
      throw new PalisadeError(
        'PALISADE_INVALID_REQUEST',
        'extensions.persistedQuery.sha256Hash is not the SHA-256 of query',
        [{ path: '/body/extensions/persistedQuery/sha256Hash', message: 'does not match query' }],
      );
    return { query, save: () => this.#persisted.set(tenant, hash, query) };
  }

  /**
   * The query, once it is known to parse as GraphQL. mercurius would take a text that does not
   * parse for a JSON-encoded AST; checked here first, a query only ever reaches it as GraphQL.
   */
  #parsed(query: string): string {
    if (this.#parses.get(query) !== undefined) return query;
    try {
      parse(query, { noLocation: true, maxTokens: this.#maxTokens });
    } catch (error) {
      if (error instanceof GraphQLError) throw error;
      throw new PalisadeError(
        'PALISADE_GRAPHQL_INVALID',
        'the query nests too deeply to parse; flatten it',
      );
    }
    this.#parses.set(query, true);
    return query;
  }
}

function fieldsOf(fields: RateLimitFields): Record<string, string> {
  return { 'ratelimit-policy': fields.policy, ratelimit: fields.status };
}

// biome-ignore lint/suspicious/noExplicitAny: resolvers of every shape, called through as given
type Resolver = (parent: any, args: any, context: GraphqlContext, info: any) => unknown;

/** The resolvers, each of a field that acts (a store operation) counting its runs in the meter. */
function metered(
  rules: RuleTable,
  resolvers: Record<string, Record<string, Resolver>>,
): Record<string, Record<string, Resolver>> {
  return Object.fromEntries(
    Object.entries(resolvers).map(([type, fields]) => [
      type,
      Object.fromEntries(
        Object.entries(fields).map(([name, resolve]) => {
          const rule = rules[type]?.[name];
          if (rule === undefined || 'property' in rule) return [name, resolve];
          const counted: Resolver = (parent, args, context, info) => {
            context.meter.ran++;
            return resolve(parent, args, context, info);
          };
          return [name, counted];
        }),
      ),
    ]),
  );
}

/** A request refused before execution answers with its first error's status. */
function statusOf(errors: readonly GraphqlErrorBody[]): number {
  return ERROR_CODES[errors[0]?.extensions.code ?? 'PALISADE_INTERNAL'].status;
}
