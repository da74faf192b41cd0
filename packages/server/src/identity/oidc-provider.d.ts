/**
 * The part of `oidc-provider` 9 (which ships no types) that Palisade uses. Kept to what the
 * identity module calls, so a change of the library's API fails the type-check here.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface AdapterPayload {
    readonly [key: string]: unknown;
    grantId?: string;
    userCode?: string;
    uid?: string;
    clientId?: string;
    consumed?: number;
  }

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export interface OidcClient {
    readonly clientId: string;
    readonly clientName?: string;
    metadata(): Record<string, unknown>;
    grantTypeAllowed(type: string): boolean;
    compareClientSecret(actual: string): boolean | Promise<boolean>;
  }

  export interface OidcToken {
    readonly kind: string;
    readonly jti: string;
    readonly grantId?: string;
    readonly accountId?: string;
    readonly clientId?: string;
    readonly client?: OidcClient;
    /** Epoch seconds of the sign-in the token comes from (codes, refresh and device codes). */
    readonly authTime?: number;
  }

  export interface OidcAccount {
    readonly accountId: string;
    claims(use: string, scope: string): Record<string, unknown> | Promise<Record<string, unknown>>;
    readonly [key: string]: unknown;
  }

  export interface OidcSession {
    readonly id: string;
    /** Epoch seconds; set once the session was saved. */
    readonly exp?: number;
    readonly accountId?: string;
    /** Epoch seconds of the session's sign-in, if it has one. */
    authTime(): number | undefined;
    save(ttlSeconds: number): Promise<unknown>;
  }

  export interface OidcContext {
    readonly provider: { cookieName(type: string): string };
    readonly session?: OidcSession;
    readonly cookies: {
      set(name: string, value: string, options: Readonly<Record<string, unknown>>): void;
    };
    readonly route?: string;
    readonly client?: OidcClient;
    readonly account?: OidcAccount;
    readonly params?: Record<string, unknown>;
    readonly entities: Record<string, unknown>;
  }

  export interface KoaContextWithOIDC {
    oidc: OidcContext;
    status: number;
    body: unknown;
    type: string;
    method: string;
    path: string;
    set(field: string, value: string): void;
  }

  export interface Interaction {
    readonly uid: string;
    readonly prompt: {
      readonly name: string;
      readonly reasons: readonly string[];
      readonly details: Record<string, unknown>;
    };
    readonly params: Record<string, unknown>;
    readonly session?: { readonly accountId?: string };
    readonly grantId?: string;
  }

  export interface InteractionResults {
    readonly [key: string]: unknown;
  }

  export interface OidcGrant {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: readonly string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface ProviderConfiguration {
    readonly [key: string]: unknown;
  }

  export type Middleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

  export default class Provider {
    constructor(issuer: string, configuration: ProviderConfiguration);
    readonly issuer: string;
    proxy: boolean;
    readonly Client: { prototype: OidcClient; find(id: string): Promise<OidcClient | undefined> };
    readonly Grant: {
      new (properties: { accountId: string; clientId: string }): OidcGrant;
      find(id: string): Promise<OidcGrant | undefined>;
    };
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    use(middleware: Middleware): void;
    on(event: string, listener: (...args: unknown[]) => void): void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
  }

  export namespace interactionPolicy {
    class Check {
      constructor(
        reason: string,
        description: string,
        check: (ctx: KoaContextWithOIDC) => boolean | Promise<boolean>,
      );
      static readonly REQUEST_PROMPT: true;
      static readonly NO_NEED_TO_PROMPT: false;
    }
    interface Prompt {
      readonly name: string;
      readonly checks: { add(check: Check): void };
    }
    /** The default prompts (login, consent), to add checks to. */
    function base(): readonly Prompt[] & { get(name: string): Prompt | undefined };
  }

  export const errors: {
    readonly InvalidTarget: new (description?: string) => Error;
    readonly InvalidRequest: new (description?: string) => Error;
    readonly InvalidGrant: new (description?: string) => Error;
    readonly InvalidRequestUri: new (description?: string) => Error;
  };
}
