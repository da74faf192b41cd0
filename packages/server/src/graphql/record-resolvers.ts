import { type InputPlacer, PalisadeError, placingInputs } from '../errors/index.ts';
import { defaultPageLimit, type Precondition } from '../records/index.ts';
import type { CollectionRow } from '../store/index.ts';
import { resourceOfArguments } from './field-authorization.ts';
import type { GraphqlContext, GraphqlServices } from './graphql-context.ts';
import { ARGUMENT_INPUT } from './graphql-errors.ts';

interface PageArgs {
  readonly limit?: number | null;
  readonly after?: string | null;
  readonly where?: readonly { readonly field: string; readonly value: string }[] | null;
}

/** The bounds REST puts on a listing's query string, applied to the same arguments here. */
const CURSOR_MAX_LENGTH = 512;
const FILTER_FIELD = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const FILTER_VALUE_MAX_LENGTH = 1024;
const ENCRYPTED_FIELDS_MAX = 64;
const FIELD_NAME_MAX_LENGTH = 64;

function invalid(argument: string, message: string): PalisadeError {
  return new PalisadeError('PALISADE_INVALID_REQUEST', `${argument} ${message}`, [
    { path: argument, message },
  ]);
}

/** A page's `limit`, defaulted and bounded as REST does it (`pageSizeMax`). */
export function pageLimit(limit: number | null | undefined, pageSizeMax: number): number {
  if (limit === undefined || limit === null) return defaultPageLimit(pageSizeMax);
  if (!Number.isInteger(limit) || limit < 1 || limit > pageSizeMax)
    throw invalid('limit', `must be between 1 and ${pageSizeMax}`);
  return limit;
}

function filtersOf(args: PageArgs): Map<string, string> {
  const filters = new Map<string, string>();
  for (const [index, { field, value }] of (args.where ?? []).entries()) {
    if (!FILTER_FIELD.test(field))
      throw invalid(`where[${index}].field`, `must match ${FILTER_FIELD.source}`);
    if (value.length > FILTER_VALUE_MAX_LENGTH)
      throw invalid(
        `where[${index}].value`,
        `must be at most ${FILTER_VALUE_MAX_LENGTH} characters`,
      );
    if (filters.has(field)) throw invalid(`where[${index}].field`, `names ${field} twice`);
    filters.set(field, value);
  }
  return filters;
}

/** The listing service names a filter by its field; the caller sent it as that `where` entry. */
function whereInput(args: PageArgs): InputPlacer {
  return ({ at }) => {
    const field = at.slice(1);
    return `where[${(args.where ?? []).findIndex((entry) => entry.field === field)}].value`;
  };
}

function precondition(expectedVersion: number | null | undefined): Precondition {
  return expectedVersion === undefined || expectedVersion === null
    ? { kind: 'none' }
    : { kind: 'versions', versions: [expectedVersion] };
}

function checkEncrypted(encrypted: readonly string[]): void {
  if (encrypted.length > ENCRYPTED_FIELDS_MAX)
    throw invalid('encrypted', `must list at most ${ENCRYPTED_FIELDS_MAX} fields`);
  if (new Set(encrypted).size !== encrypted.length)
    throw invalid('encrypted', 'must not name a field twice');
  if (encrypted.some((field) => field.length === 0 || field.length > FIELD_NAME_MAX_LENGTH))
    throw invalid('encrypted', `fields must be 1 to ${FIELD_NAME_MAX_LENGTH} characters`);
}

/** Collections and records: each resolver calls the service its REST route calls. */
export function recordResolvers(
  { collections, records, authorizer }: GraphqlServices,
  pageSizeMax: number,
) {
  const page = async (context: GraphqlContext, collection: string, args: PageArgs) => {
    const limit = pageLimit(args.limit, pageSizeMax);
    if ((args.after?.length ?? 0) > CURSOR_MAX_LENGTH)
      throw invalid('after', `must be at most ${CURSOR_MAX_LENGTH} characters`);
    return placingInputs(
      records.list(
        context.principal.context,
        collection,
        { limit, cursor: args.after ?? undefined, filters: filtersOf(args) },
        await authorizer.recordReads(context.principal),
      ),
      whereInput(args),
    );
  };

  return {
    Query: {
      collections: async (_: unknown, _args: unknown, context: GraphqlContext) => {
        const { principal } = context;
        const readable = await authorizer.itemReads(principal, 'collections:read');
        // The cost limit counted this unpaged list as `pageSizeMax` collections. When no
        // policy tells them apart, the store counts them before any is read.
        if (readable.uniform !== undefined) {
          const count = await collections.count(principal.context, readable);
          if (count > pageSizeMax) throw tooManyCollections(count, pageSizeMax);
          if (count === 0) return [];
        }
        const { items, count } = await collections.list(principal.context, readable, pageSizeMax);
        if (count > pageSizeMax) throw tooManyCollections(count, pageSizeMax);
        return items;
      },
      collection: (_: unknown, args: { name: string }, context: GraphqlContext) =>
        collections.get(context.principal.context, args.name),
      record: (_: unknown, args: { collection: string; id: string }, context: GraphqlContext) =>
        records.get(context.principal.context, args.collection, args.id),
      records: (_: unknown, args: PageArgs & { collection: string }, context: GraphqlContext) =>
        page(context, args.collection, args),
    },
    Collection: {
      // The one field whose resource comes from its parent: Cedar decides here, per collection.
      records: async (parent: CollectionRow, args: PageArgs, context: GraphqlContext) => {
        const { principal } = context;
        await authorizer.authorize(
          principal,
          'records:read',
          resourceOfArguments(principal.context.tenantId, 'records:read', {
            collection: parent.name,
          }),
        );
        return page(context, parent.name, args);
      },
    },
    Mutation: {
      defineCollection: async (
        _: unknown,
        args: { name: string; schema: Record<string, unknown>; encrypted?: string[] | null },
        context: GraphqlContext,
      ) => {
        const encrypted = args.encrypted ?? [];
        checkEncrypted(encrypted);
        return placingInputs(
          collections.put(
            context.principal.context,
            args.name,
            { schema: args.schema, encrypted },
            await authorizer.recordReads(context.principal),
          ),
          ARGUMENT_INPUT,
        );
      },
      createRecord: (
        _: unknown,
        args: { collection: string; data: Record<string, unknown> },
        context: GraphqlContext,
      ) => records.create(context.principal.context, args.collection, args.data),
      replaceRecord: (
        _: unknown,
        args: {
          collection: string;
          id: string;
          data: Record<string, unknown>;
          expectedVersion?: number | null;
        },
        context: GraphqlContext,
      ) =>
        records.update(
          context.principal.context,
          args.collection,
          args.id,
          { replace: args.data },
          precondition(args.expectedVersion),
        ),
      patchRecord: (
        _: unknown,
        args: {
          collection: string;
          id: string;
          patch: Record<string, unknown>;
          expectedVersion?: number | null;
        },
        context: GraphqlContext,
      ) =>
        records.update(
          context.principal.context,
          args.collection,
          args.id,
          { mergePatch: args.patch },
          precondition(args.expectedVersion),
        ),
      // As REST's DELETE: with expectedVersion the field took records:read; without it, a
      // caller that may not read the record is answered its id whether or not it was there.
      deleteRecord: async (
        _: unknown,
        args: { collection: string; id: string; expectedVersion?: number | null },
        context: GraphqlContext,
      ) => {
        const { principal } = context;
        const condition = precondition(args.expectedVersion);
        const readable =
          condition.kind !== 'none' ||
          (await authorizer.decide(
            principal,
            'records:read',
            resourceOfArguments(principal.context.tenantId, 'records:read', args),
          ));
        await records.delete(principal.context, args.collection, args.id, condition, readable);
        return args.id;
      },
    },
  };
}

function tooManyCollections(count: number, max: number): PalisadeError {
  return new PalisadeError(
    'PALISADE_GRAPHQL_TOO_COSTLY',
    `the tenant has ${count} collections, more than the ${max} the cost limit counts for collections: list them with GET /v1/collections and query each by name`,
  );
}
