import type { Authorizer, TenantPrincipal } from '../authz/index.ts';
import type { IdentityService } from '../identity/index.ts';
import type { TenantLedger } from '../ledger/index.ts';
import type { RequestQuotas } from '../quotas/index.ts';
import type { CollectionService, RecordService } from '../records/index.ts';
import type { UserService } from '../users/index.ts';

/** The services the resolvers call: the very ones behind the REST routes. */
export interface GraphqlServices {
  readonly collections: CollectionService;
  readonly records: RecordService;
  readonly ledger: TenantLedger;
  readonly authorizer: Authorizer;
  /** Users, when the gateway serves them: the schema then has `users` and `user`. */
  readonly users?: UserService | undefined;
  /** OAuth clients, when the gateway serves them: the schema then has `clients` and `client`. */
  readonly clients?: IdentityService['clients'] | undefined;
  /**
   * The request buckets an operation is charged to, one request per store operation beyond
   * the one its request was charged at the door (a REST request makes one).
   */
  readonly requests: Pick<RequestQuotas, 'admitMore' | 'refund'>;
}

/** An operation's charge beyond its request's own, and the store operations it ran. */
export interface OperationMeter {
  charged: number;
  ran: number;
}

/**
 * What every resolver gets: the verified caller, whose tenant comes from its credential and
 * nothing else, and the operation to run (the pre-execution guard needs it to pick one).
 */
export interface GraphqlContext {
  readonly principal: TenantPrincipal;
  readonly operationName: string | undefined;
  readonly meter: OperationMeter;
}

declare module 'mercurius' {
  // mercurius's documented way to type the context its resolvers receive.
  interface MercuriusContext extends GraphqlContext {}
}
