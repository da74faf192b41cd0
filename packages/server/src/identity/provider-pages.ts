/**
 * The pages `oidc-provider` renders itself (device code entry and confirmation, sign-out,
 * errors), in the issuer's plain HTML under the page CSP. The provider's forms are kept as
 * they are (they carry its CSRF token); a button with `form=` submits them without script.
 */
import type { KoaContextWithOIDC, OidcClient } from 'oidc-provider';
import type { Tenant } from '../tenancy/index.ts';
import { messagePage, PAGE_HEADERS, userCodeConfirmPage, userCodePage } from './html-pages.ts';

function html(ctx: KoaContextWithOIDC, body: string): void {
  for (const [name, value] of Object.entries(PAGE_HEADERS)) ctx.set(name, value);
  ctx.body = body;
}

/** How the issuer keeps browser sessions: their lifetime and their cookie's options. */
export interface SessionKeeping {
  readonly seconds: number;
  readonly cookie: Readonly<Record<string, unknown>>;
}

/**
 * The provider shows a refused code form again with a new xsrf secret in the browser's
 * session, then persists the session, which throws (a 500) for one it never saved: the post
 * came without the session cookie (cleared, expired, another browser). Such a session is
 * saved here, with its cookie, as the provider saves a new one, so the form shown works.
 */
async function keepSession(ctx: KoaContextWithOIDC, keeping: SessionKeeping): Promise<void> {
  const session = ctx.oidc.session;
  if (session === undefined || typeof session.exp === 'number') return;
  ctx.oidc.cookies.set(ctx.oidc.provider.cookieName('session'), session.id, keeping.cookie);
  await session.save(keeping.seconds);
}

/** `features.deviceFlow` page sources. */
export function deviceFlowPages(keeping: SessionKeeping) {
  return {
    userCodeInputSource: async (
      ctx: KoaContextWithOIDC,
      form: string,
      _out: unknown,
      error: unknown,
    ) => {
      if (error !== undefined) await keepSession(ctx, keeping);
      html(
        ctx,
        userCodePage({
          // The provider's inline focus handler would only be blocked by the CSP.
          form: `${form.replace(/ onfocus="[^"]*"/, '')}<button type="submit" form="op.deviceInputForm">Continue</button>`,
          message: error === undefined ? undefined : 'That code is unknown or expired; try again.',
        }),
      );
    },
    userCodeConfirmSource: async (
      ctx: KoaContextWithOIDC,
      form: string,
      client: OidcClient,
      _device: unknown,
      userCode: string,
    ) =>
      html(
        ctx,
        userCodeConfirmPage({
          form: `${form}<button type="submit" form="op.deviceConfirmForm">Continue</button>`,
          clientName: client.clientName ?? client.clientId,
          userCode,
        }),
      ),
    successSource: async (ctx: KoaContextWithOIDC) =>
      html(
        ctx,
        messagePage('Device connected', 'You can close this page and return to your device.'),
      ),
  };
}

/** `features.rpInitiatedLogout` page sources. */
export function logoutPages(tenant: Tenant) {
  return {
    logoutSource: async (ctx: KoaContextWithOIDC, form: string) =>
      html(
        ctx,
        messagePage(
          'Sign out?',
          `Sign out of ${tenant.name}?`,
          `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button> <button type="submit" form="op.logoutForm">Stay signed in</button>`,
        ),
      ),
    postLogoutSuccessSource: async (ctx: KoaContextWithOIDC) =>
      html(ctx, messagePage('Signed out', `You are signed out of ${tenant.name}.`)),
  };
}

/** The page of an error the provider cannot send back to the client. */
export async function renderError(
  ctx: KoaContextWithOIDC,
  out: { error?: string; error_description?: string },
): Promise<void> {
  html(
    ctx,
    messagePage(
      'Sign-in failed',
      `${out.error ?? 'error'}: ${out.error_description ?? 'the request cannot be completed'}`,
    ),
  );
}
