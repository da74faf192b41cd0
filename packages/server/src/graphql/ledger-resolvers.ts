import { PalisadeError, placingInputs } from '../errors/index.ts';
import type { WrittenRecord } from '../records/index.ts';
import type { RecordRow } from '../store/index.ts';
import type { GraphqlContext, GraphqlServices } from './graphql-context.ts';
import { ARGUMENT_INPUT } from './graphql-errors.ts';

/** Query.ledger's value: the ledger has no state of its own, its fields read the tenant's. */
const LEDGER = Object.freeze({});

/** The tenant ledger and record proofs: each resolver calls what its REST route calls. */
export function ledgerResolvers({ ledger, records, authorizer }: GraphqlServices) {
  return {
    Query: {
      ledger: () => LEDGER,
    },
    Record: {
      // A record a write answered is proven as that write committed it, never as a later
      // write, which its writer may not be allowed to read, left it.
      proof: (
        parent: RecordRow & Partial<WrittenRecord>,
        _args: unknown,
        context: GraphqlContext,
      ) =>
        ledger.recordProof(context.principal.context, parent.collection, parent.id, parent.written),
    },
    Ledger: {
      checkpoint: async (_: unknown, _args: unknown, context: GraphqlContext) =>
        (await ledger.checkpoint(context.principal.context)) ?? null,
      entries: async (
        _: unknown,
        args: { start: number; end: number },
        context: GraphqlContext,
      ) => {
        if (args.start < 0)
          throw new PalisadeError('PALISADE_INVALID_REQUEST', 'start must be at least 0', [
            { path: 'start', message: 'must be at least 0' },
          ]);
        const reads = await authorizer.exportReads(context.principal);
        const listed = ledger.entries(context.principal.context, args.start, args.end, reads);
        return (await placingInputs(listed, ARGUMENT_INPUT)).entries;
      },
      recordProof: async (
        _: unknown,
        args: { collection: string; id: string },
        context: GraphqlContext,
      ) => {
        await records.get(context.principal.context, args.collection, args.id);
        return ledger.recordProof(context.principal.context, args.collection, args.id);
      },
    },
  };
}
