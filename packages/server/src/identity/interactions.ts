/**
 * The sign-in and consent steps of an authorization (and of a device authorization): pages
 * at `/t/<slug>/interaction/<uid>`, bound to the browser by the issuer's signed interaction
 * cookie (SameSite=Lax, so another site cannot post the form for the user).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Interaction } from 'oidc-provider';
import { PalisadeError } from '../errors/index.ts';
import { consentPage, messagePage, PAGE_HEADERS, signInPage } from './html-pages.ts';
import { retryAfterOf, type SignInVerifier } from './sign-in.ts';
import type { TenantIssuer } from './tenant-issuers.ts';

/** The fields the interaction forms post. */
export interface InteractionForm {
  readonly step?: string | undefined;
  readonly email?: string | undefined;
  readonly password?: string | undefined;
  readonly totp?: string | undefined;
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  res.writeHead(status, { ...PAGE_HEADERS, ...headers });
  res.end(body);
}

export class InteractionPages {
  readonly #signIn: SignInVerifier;

  constructor(signIn: SignInVerifier) {
    this.#signIn = signIn;
  }

  async show(issuer: TenantIssuer, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await this.#details(issuer, req, res);
    if (details === undefined) return;
    send(res, 200, await this.#page(issuer, details));
  }

  async submit(
    issuer: TenantIssuer,
    req: IncomingMessage,
    res: ServerResponse,
    form: InteractionForm,
  ): Promise<void> {
    const details = await this.#details(issuer, req, res);
    if (details === undefined) return;
    const { provider } = issuer;
    if (form.step === 'abort') {
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'the user cancelled the sign-in',
      });
      return;
    }
    if (form.step === 'login' && details.prompt.name === 'login') {
      const accountId = await this.#login(issuer, details, form, res);
      if (accountId !== undefined)
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId } },
          {
            mergeWithLastSubmission: false,
          },
        );
      return;
    }
    if (form.step === 'consent' && details.prompt.name === 'consent') {
      await provider.interactionFinished(
        req,
        res,
        { consent: { grantId: await grantConsent(issuer, details) } },
        { mergeWithLastSubmission: true },
      );
      return;
    }
    send(res, 200, await this.#page(issuer, details));
  }

  async #details(
    issuer: TenantIssuer,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<Interaction | undefined> {
    try {
      return await issuer.provider.interactionDetails(req, res);
    } catch {
      send(
        res,
        400,
        messagePage(
          'Sign-in expired',
          'This sign-in is unknown or has expired. Go back to the application and start again.',
        ),
      );
      return undefined;
    }
  }

  async #login(
    issuer: TenantIssuer,
    details: Interaction,
    form: InteractionForm,
    res: ServerResponse,
  ): Promise<string | undefined> {
    try {
      const user = await this.#signIn.signIn(
        issuer.tenant,
        form.email ?? '',
        form.password ?? '',
        form.totp === '' ? undefined : form.totp,
      );
      return user.id;
    } catch (error) {
      if (!(error instanceof PalisadeError)) throw error;
      const retryAfter = retryAfterOf(error);
      send(
        res,
        error.status,
        await this.#page(issuer, details, { email: form.email, message: error.message }),
        retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) },
      );
      return undefined;
    }
  }

  async #page(
    issuer: TenantIssuer,
    details: Interaction,
    extra: { email?: string | undefined; message?: string | undefined } = {},
  ): Promise<string> {
    const clientId = String(details.params.client_id ?? '');
    const client = await issuer.provider.Client.find(clientId);
    const common = {
      tenantName: issuer.tenant.name,
      clientName: client?.clientName ?? clientId,
      action: `${new URL(issuer.provider.issuer).pathname}/interaction/${details.uid}`,
    };
    if (details.prompt.name === 'login') return signInPage({ ...common, ...extra });
    const scopes = String(details.params.scope ?? '')
      .split(' ')
      .filter(Boolean);
    return consentPage({ ...common, scopes });
  }
}

/** Grants what the consent prompt found missing: OIDC scopes, claims and the API's scope. */
async function grantConsent(issuer: TenantIssuer, details: Interaction): Promise<string> {
  const { provider } = issuer;
  const accountId = details.session?.accountId;
  if (accountId === undefined)
    throw new PalisadeError('PALISADE_INVALID_REQUEST', 'the consent has no signed-in user');
  const grant =
    (details.grantId === undefined ? undefined : await provider.Grant.find(details.grantId)) ??
    new provider.Grant({ accountId, clientId: String(details.params.client_id) });
  const missing = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (missing.missingOIDCScope !== undefined)
    grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims !== undefined) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
    grant.addResourceScope(resource, scopes.join(' '));
  return grant.save();
}
