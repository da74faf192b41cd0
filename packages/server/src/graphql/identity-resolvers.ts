import { PalisadeError } from '../errors/index.ts';
import type { IdentityService } from '../identity/index.ts';
import { isUuid } from '../ids/index.ts';
import { decodeCursor, page } from '../records/index.ts';
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
export function userResolvers(users: UserService, pageSizeMax: number) {
  return {
    users: async (_: unknown, args: PageArgs, context: GraphqlContext) => {
      const limit = pageLimit(args.limit, pageSizeMax);
      const after = decodeCursor(args.after ?? undefined);
      return page(await users.list(context.principal.context, after, limit + 1), limit);
    },
    user: (_: unknown, args: { id: string }, context: GraphqlContext) => {
      checkId('user', args.id);
      return users.get(context.principal.context, args.id);
    },
  };
}

/** OAuth clients, read as GET /v1/clients reads them. */
export function clientResolvers(clients: IdentityService['clients'], pageSizeMax: number) {
  return {
    clients: (_: unknown, args: PageArgs, context: GraphqlContext) => {
      const limit = pageLimit(args.limit, pageSizeMax);
      return clients.list(context.principal.context, args.after ?? undefined, limit);
    },
    client: (_: unknown, args: { id: string }, context: GraphqlContext) => {
      checkId('client', args.id);
      return clients.get(context.principal.context, args.id);
    },
  };
}
