import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Authorizer, PolicyService, RoleService } from '../authz/index.ts';
import type { CredentialVerifier, TenantAdmin } from '../control/index.ts';
import type { CorsSettings } from '../cors/index.ts';
import type { DeviceServices } from '../devices/index.ts';
import type {
  EdgeCredentialSync,
  EdgeRpcRelay,
  EdgeRuleService,
  EdgeService,
} from '../edge/index.ts';
import { GraphqlEndpoint, type GraphqlOptions } from '../graphql/index.ts';
import type { IdentityService } from '../identity/index.ts';
import type { KeyRotation } from '../keys/index.ts';
import type { TenantLedger } from '../ledger/index.ts';
import type { RequestQuotas, SignInLimits } from '../quotas/index.ts';
import type { CollectionService, RecordService } from '../records/index.ts';
import type { Tenant } from '../tenancy/index.ts';
import type { UserServices } from '../users/index.ts';
import { installAuth } from './auth-hook.ts';
import { installContentEncodingCheck } from './content-encoding.ts';
import { corsPreflightRoute, installCors } from './cors-hook.ts';
import { authenticateEdgeNode } from './edge-node-auth.ts';
import { strictJsonParser } from './json-body.ts';
import { installMetrics } from './metrics.ts';
import { installOpenApi } from './openapi.ts';
import { frameworkProblem, installProblemHandlers } from './problem-handler.ts';
import { installRateLimits, issuerCharge, requestCharge } from './rate-limit-hook.ts';
import { requestLogger } from './request-logger.ts';
import { clientRoutes } from './routes/client-routes.ts';
import { collectionRoutes } from './routes/collection-routes.ts';
import { deviceRoutes } from './routes/device-routes.ts';
import { edgeRoutes } from './routes/edge-routes.ts';
import { edgeRpcRoutes } from './routes/edge-rpc-routes.ts';
import { edgeRuleRoutes } from './routes/edge-rule-routes.ts';
import { edgeSyncRoutes } from './routes/edge-sync-routes.ts';
import { graphqlRoutes } from './routes/graphql-routes.ts';
import { invitationRoutes } from './routes/invitation-routes.ts';
import { issuerKeyRoutes } from './routes/issuer-key-routes.ts';
import { issuerRoutes } from './routes/issuer-routes.ts';
import { keyRoutes } from './routes/key-routes.ts';
import { ledgerRoutes } from './routes/ledger-routes.ts';
import { ownAccountRoutes } from './routes/own-account-routes.ts';
import { platformTenantRoutes } from './routes/platform-tenant-routes.ts';
import { policyRoutes } from './routes/policy-routes.ts';
import { recordRoutes } from './routes/record-routes.ts';
import { roleRoutes } from './routes/role-routes.ts';
import { settingsRoutes } from './routes/settings-routes.ts';
import { type SystemProbes, systemRoutes } from './routes/system-routes.ts';
import { telemetryRoutes } from './routes/telemetry-routes.ts';
import { usageRoutes } from './routes/usage-routes.ts';
import { userRoutes } from './routes/user-routes.ts';
import { apiSecurityHeaders, installSecurityHeaders } from './security-headers.ts';
import { httpsServerFactory, type TlsFiles } from './tls-listener.ts';
import { installValidators } from './validation.ts';

export interface GatewayOptions {
  readonly logger: Logger;
  readonly bodyLimit: number;
  readonly pageSizeMax: number;
  readonly version: string;
  readonly verifier: CredentialVerifier;
  readonly tenants: TenantAdmin;
  /** The authorization decision of every tenant route, and the roles and policies behind it. */
  readonly authz: {
    readonly authorizer: Authorizer;
    readonly roles: RoleService;
    readonly policies: PolicyService;
    readonly policySetMaxChars: number;
  };
  readonly collections: CollectionService;
  readonly records: RecordService;
  /** Device registry, telemetry and RPC routes; absent, they are not served. */
  readonly devices?: DeviceServices | undefined;
  /** Edge node registry, enrollment and signed batches; absent, they are not served. */
  readonly edge?:
    | { service: EdgeService; credentials: EdgeCredentialSync; batchMaxMessages: number }
    | undefined;
  /** Edge rules per device type, and the rule book nodes pull; absent, not served. */
  readonly edgeRules?: EdgeRuleService | undefined;
  /** RPC to devices behind edge nodes, relayed by each node's long poll; absent, not served. */
  readonly edgeRpc?: { relay: EdgeRpcRelay; waitMaxMs: number } | undefined;
  /** Key rotation and status routes; absent, they are not served. */
  readonly keys?: KeyRotation | undefined;
  /** Tenant issuers (`/t/<slug>/…`) and OAuth clients (`/v1/clients`); absent, not served. */
  readonly identity?: IdentityService | undefined;
  /** Serve HTTPS (hybrid post-quantum key exchange preferred) with these PEM files. */
  readonly tls?: TlsFiles | undefined;
  /** `max-age` of Strict-Transport-Security, sent only with `tls`; 0 sends none. */
  readonly hstsMaxAgeSeconds: number;
  /** API request rate limits per tenant and per principal, charged after authentication. */
  readonly rateLimits: RequestQuotas;
  /** How long a refused request is held before its 429 (see `requestCharge`). */
  readonly rateLimitRefusalDelayMs: number;
  /** Sign-in, invitation and device-code form posts per client address and tenant. */
  readonly signInLimits: SignInLimits;
  /** Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client. */
  readonly trustedProxies: readonly string[];
  /** The tenants' CORS allow-lists, and how long a browser may cache a preflight answer. */
  readonly cors: { readonly settings: CorsSettings; readonly maxAgeSeconds: number };
  readonly ledger: TenantLedger;
  /** Tenant users (`/v1/users…`) and their invitation pages (`/t/{slug}/invite/{token}`). */
  readonly users?:
    | {
        readonly services: UserServices;
        readonly tenantBySlug: (slug: string) => Promise<Tenant | undefined>;
      }
    | undefined;
  /** `/v1/graphql`: its depth, cost and query-length limits and persisted-query bound. */
  readonly graphql: GraphqlOptions & { readonly queryMaxLength: number };
  /** Registry served on `/metrics`; other listeners (MQTT) add their metrics to it. */
  readonly metrics?: Registry | undefined;
  readonly probes: Omit<SystemProbes, 'openApi'>;
  /** True once shutdown began: new requests get 503 PALISADE_UNAVAILABLE. */
  readonly closing: () => boolean;
}

/** The REST gateway: one Fastify app with authentication, validation and problem+json on every route. */
export async function createGateway(options: GatewayOptions): Promise<FastifyInstance> {
  const securityHeaders = {
    tls: options.tls !== undefined,
    hstsMaxAgeSeconds: options.hstsMaxAgeSeconds,
  };
  const routerRefusalHeaders = apiSecurityHeaders(securityHeaders);
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    childLoggerFactory: requestLogger,
    bodyLimit: options.bodyLimit,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { maxParamLength: 200 },
    // The router refuses these before any hook runs, so they get their headers here.
    frameworkErrors: (error, _request, reply) =>
      frameworkProblem(error, reply.headers(routerRefusalHeaders)),
    trustProxy: options.trustedProxies.length === 0 ? false : [...options.trustedProxies],
    ...(options.tls === undefined
      ? {}
      : { serverFactory: httpsServerFactory(options.tls) as unknown as undefined }),
  });
  app.removeContentTypeParser(['text/plain', 'application/json']);
  const parseJson = strictJsonParser(app.getDefaultJsonParser('error', 'error'));
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJson);
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'buffer' }, parseJson);
  installContentEncodingCheck(app);
  installValidators(app);
  installProblemHandlers(app);
  installSecurityHeaders(app, securityHeaders);
  installAuth(app, options.verifier, options.authz.authorizer, options.closing);
  installCors(app, options.cors.settings);
  const charge = requestCharge(options.rateLimits, options.rateLimitRefusalDelayMs);
  installRateLimits(app, charge);
  const metrics = installMetrics(app, options.metrics);
  const openApi = installOpenApi(app, { title: 'Palisade API', version: options.version });
  systemRoutes(app, { ready: options.probes.ready, openApi }, metrics);
  platformTenantRoutes(app, options.tenants, options.pageSizeMax);
  collectionRoutes(app, options.collections, options.authz.authorizer, options.pageSizeMax);
  recordRoutes(app, options.records, options.authz.authorizer, options.pageSizeMax);
  if (options.keys !== undefined) keyRoutes(app, options.keys, options.tenants);
  if (options.identity !== undefined) {
    issuerRoutes(
      app,
      options.identity,
      options.signInLimits,
      issuerCharge(options.rateLimits, options.rateLimitRefusalDelayMs),
    );
    clientRoutes(app, options.identity, options.authz.authorizer, options.pageSizeMax);
    issuerKeyRoutes(app, options.identity);
  }
  ledgerRoutes(app, options);
  graphqlRoutes(
    app,
    await GraphqlEndpoint.install(
      app,
      {
        ...options,
        authorizer: options.authz.authorizer,
        users: options.users?.services.service,
        clients: options.identity?.clients,
        requests: options.rateLimits,
      },
      options.graphql,
    ),
    options.graphql.queryMaxLength,
    options.rateLimitRefusalDelayMs,
  );
  roleRoutes(app, options.authz.roles, options.authz.authorizer, options.pageSizeMax);
  policyRoutes(app, options.authz.policies, options.authz.policySetMaxChars);
  settingsRoutes(app, options.cors.settings);
  corsPreflightRoute(app, options.cors.settings, options.cors.maxAgeSeconds);
  if (options.devices !== undefined) {
    deviceRoutes(app, options.devices, options.authz.authorizer, options.pageSizeMax);
    telemetryRoutes(app, {
      devices: options.devices,
      authorizer: options.authz.authorizer,
      verifier: options.verifier,
      pageSizeMax: options.pageSizeMax,
    });
    const quotas = options.devices.telemetry.quotas;
    if (quotas !== undefined)
      usageRoutes(app, quotas, options.rateLimits, options.devices.liveStreams, {
        devices: options.devices.registry,
        collections: options.collections,
        authorizer: options.authz.authorizer,
      });
  }
  if (options.edge !== undefined) {
    // The node routes authenticate the node before the body or query is read or validated.
    const nodeAuth = authenticateEdgeNode(options.edge.service, charge);
    edgeRoutes(app, options.edge.service, nodeAuth, {
      authorizer: options.authz.authorizer,
      pageSizeMax: options.pageSizeMax,
      batchMaxMessages: options.edge.batchMaxMessages,
    });
    edgeSyncRoutes(app, options.edge.credentials, nodeAuth, { pageSizeMax: options.pageSizeMax });
    if (options.edgeRules !== undefined)
      edgeRuleRoutes(app, options.edgeRules, nodeAuth, { pageSizeMax: options.pageSizeMax });
    if (options.edgeRpc !== undefined)
      edgeRpcRoutes(app, options.edgeRpc.relay, nodeAuth, {
        waitMaxMs: options.edgeRpc.waitMaxMs,
        responsesMax: options.pageSizeMax,
      });
  }
  if (options.users !== undefined) {
    userRoutes(app, options.users.services, options.authz.authorizer, options.pageSizeMax);
    ownAccountRoutes(app, options.users.services);
    invitationRoutes(app, options.users.services, options.users.tenantBySlug, options.signInLimits);
  }
  await app.ready();
  return app;
}
