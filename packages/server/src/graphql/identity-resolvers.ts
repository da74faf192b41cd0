import type { Authorizer } from '../authz/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { IdentityService } from '../identity/index.ts';
import { isUuid } from '../ids/index.ts';
import { cursorPage, decodeCursor } from '../records/index.ts';
import type { UserService } from '../users/index.ts';
import type { GraphqlContext } from './graphql-context.ts';
import { pageLimit } from './record-resolvers.ts';

interface PageArgs {
  readonly limit?: number | null;
  readonly after?: string | null;
}

/** REST refuses a malformed id in the path; here it is an argument, refused the same way. */
function checkId(kind: string, id: string): void {
  if (!isUuid(id))
    throw new PalisadeError(
      'PALISADE_INVALID_ID',
      `${kind} id ${JSON.stringify(id)} is not a UUID`,
    );
}

/** Users, read as GET /v1/users reads them. */
export function userResolvers(users: UserService, authorizer: Authorizer, pageSizeMax: number) {
  return {
    users: async (_: unknown, args: PageArgs, { principal }: GraphqlContext) => {
      const limit = pageLimit(args.limit, pageSizeMax);
      const after = decodeCursor(args.after ?? undefined);
      const readable = await authorizer.itemReads(principal, 'users:read');
      return cursorPage(await users.list(principal.context, after, limit, readable));
    },
    user: (_: unknown, args: { id: string }, context: GraphqlContext) => {
      checkId('user', args.id);
      return users.get(context.principal.context, args.id);
    },
  };
}

/** OAuth clients, read as GET /v1/clients reads them. */
export function clientResolvers(
  clients: IdentityService['clients'],
  authorizer: Authorizer,
  pageSizeMax: number,
) {
  return {
    clients: async (_: unknown, args: PageArgs, { principal }: GraphqlContext) => {
      const limit = pageLimit(args.limit, pageSizeMax);
      const readable = await authorizer.itemReads(principal, 'clients:read');
      return clients.list(principal.context, args.after ?? undefined, limit, readable);
    },
    client: (_: unknown, args: { id: string }, context: GraphqlContext) => {
      checkId('client', args.id);
      return clients.get(context.principal.context, args.id);
    },
  };
}
