/**
 * A listening platform on one backend for the OAuth tests: `openid-client` needs real HTTP.
 * Helpers make tenants and clients through the API and get tokens the way an app would.
 */
import type { TestContext } from 'node:test';
import * as oidc from 'openid-client';
import { type Platform, startPlatform } from '../../src/index.ts';
import { ADMIN_TOKEN } from './api.ts';
import { type BackendFixture, type BackendName, openBackend } from './backends.ts';
import { busFlags, deleteNatsStream } from './buses.ts';
import { type HttpReply, httpCall } from './http.ts';

export interface TestClient {
  readonly id: string;
  readonly secret: string | null;
  readonly issuer: string;
}

/** A browser without JavaScript: follows nothing by itself, keeps cookies per path. */
export class Browser {
  readonly #cookies = new Map<string, { value: string; path: string }>();

  async request(url: string, form?: Record<string, string>): Promise<HttpReply> {
    const target = new URL(url);
    const cookie = [...this.#cookies]
      .filter(([, c]) => target.pathname.startsWith(c.path))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
    const response = await fetch(target, {
      method: form === undefined ? 'GET' : 'POST',
      redirect: 'manual',
      headers: {
        ...(cookie === '' ? {} : { cookie }),
        ...(form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const index = pair!.indexOf('=');
      const path = attributes.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
      const value = pair!.slice(index + 1);
      const name = pair!.slice(0, index).trim();
      if (value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, { value, path: path?.slice(5) ?? '/' });
    }
    return { status: response.status, headers: response.headers, body: await response.text() };
  }

  /** Every cookie, whatever its path: what an attacker who stole them could send anywhere. */
  allCookies(): string {
    return [...this.#cookies].map(([name, c]) => `${name}=${c.value}`).join('; ');
  }

  /** Follows redirects from `url` until a page, or a redirect to `stopAt`. */
  async follow(url: string, stopAt: string): Promise<{ url: string; reply: HttpReply }> {
    let current = url;
    for (let hops = 0; hops < 10; hops++) {
      const reply = await this.request(current);
      const location = reply.headers.get('location');
      if (reply.status < 300 || reply.status >= 400 || location === null)
        return { url: current, reply };
      current = new URL(location, current).href;
      if (current.startsWith(stopAt)) return { url: current, reply };
    }
    throw new Error(`too many redirects from ${url}`);
  }
}

export class OidcPlatform {
  readonly platform: Platform;
  readonly fixture: BackendFixture;

  private constructor(platform: Platform, fixture: BackendFixture) {
    this.platform = platform;
    this.fixture = fixture;
  }

  static async start(
    backend: BackendName,
    overrides: Record<string, string | string[]> = {},
  ): Promise<OidcPlatform> {
    const fixture = await openBackend(backend, {
      adminToken: ADMIN_TOKEN,
      mqtt: 'off',
      ...overrides,
    });
    return new OidcPlatform(await startPlatform(fixture.settings), fixture);
  }

  get url(): string {
    return this.platform.url;
  }

  call(
    method: string,
    path: string,
    token?: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpReply> {
    return httpCall(this.url, method, path, token, body, headers);
  }

  /** A tenant with one API key (role owner). */
  async tenant(slug: string): Promise<{ id: string; slug: string; key: string }> {
    const tenant = await this.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, {
      slug,
      name: `Tenant ${slug}`,
    });
    if (tenant.status !== 201)
      throw new Error(`tenant: ${tenant.status} ${JSON.stringify(tenant.body)}`);
    const key = await this.call(
      'POST',
      `/v1/platform/tenants/${tenant.body.id}/api-keys`,
      ADMIN_TOKEN,
      { name: 'test' },
    );
    if (key.status !== 201) throw new Error(`api key: ${key.status} ${JSON.stringify(key.body)}`);
    return { id: tenant.body.id, slug, key: key.body.secret };
  }

  async client(key: string, body: Record<string, unknown>): Promise<TestClient> {
    const created = await this.call('POST', '/v1/clients', key, body);
    if (created.status !== 201)
      throw new Error(`client: ${created.status} ${JSON.stringify(created.body)}`);
    return { id: created.body.id, secret: created.body.secret, issuer: created.body.issuer };
  }

  /** openid-client's configuration of a client, from the issuer's discovery document. */
  configuration(client: TestClient): Promise<oidc.Configuration> {
    return oidc.discovery(
      new URL(client.issuer),
      client.id,
      undefined,
      client.secret === null ? oidc.None() : oidc.ClientSecretBasic(client.secret),
      { execute: [oidc.allowInsecureRequests] },
    );
  }

  /** An access token of a service client, by the client credentials grant. */
  async serviceToken(key: string, roles: string[] = ['owner']): Promise<string> {
    const client = await this.client(key, { name: 'service', kind: 'service', roles });
    const tokens = await oidc.clientCredentialsGrant(await this.configuration(client));
    return tokens.access_token;
  }

  /** An active user of the tenant with a password, made through the invitation flow. */
  async user(key: string, email: string, roles: string[], password: string): Promise<string> {
    const user = await this.call('POST', '/v1/users', key, { email, name: email, roles });
    if (user.status !== 201) throw new Error(`user: ${user.status} ${JSON.stringify(user.body)}`);
    const accepted = await new Browser().request(`${this.url}${user.body.invitation.link}`, {
      password,
      confirm: password,
    });
    if (accepted.status !== 200) throw new Error(`invitation: ${accepted.status} ${accepted.body}`);
    return user.body.user.id;
  }

  async close(): Promise<void> {
    await this.platform.close();
    await this.fixture.cleanup();
  }
}

/**
 * Two API processes' platforms on one PostgreSQL control plane with NATS between them: `a`
 * listens (its URL is the public one), `b` answers through inject. Both keep what they cache
 * for an hour, so only the platform's notices can end it. Closed, and their stream deleted,
 * after the test.
 */
export async function twoApiPlatforms(t: TestContext): Promise<{ a: OidcPlatform; b: Platform }> {
  const flags = busFlags('nats');
  const a = await OidcPlatform.start('postgres', { ...flags, authCacheTtlMs: '3600000' });
  const b = await startPlatform(
    { ...a.fixture.settings, adminToken: ADMIN_TOKEN, publicUrl: a.url },
    { listen: false },
  );
  t.after(async () => {
    await b.close();
    await a.close();
    await deleteNatsStream(flags.busPrefix!);
  });
  return { a, b };
}

/** The `action` of a page's form, absolute. */
export function formAction(page: string, base: string): string {
  const action = /<form method="post" action="([^"]+)"/.exec(page)?.[1];
  if (action === undefined) throw new Error(`no form in ${page}`);
  return new URL(action.replaceAll('&amp;', '&'), base).href;
}

/**
 * Waits for the next second: the issuer dates a sign-in in whole seconds, and one in the very
 * second of a credential change, a reset or a disable still counts.
 */
export function nextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 10));
}

/** Who signs in, and how, in `authorizeInBrowser`. */
export interface BrowserSignIn {
  readonly redirect: string;
  readonly scope: string;
  readonly email: string;
  readonly password: string;
  /** A TOTP code, given on the sign-in page when there is one. */
  readonly totp?: string;
  /** The PKCE verifier whose challenge the authorization request carries. */
  readonly verifier: string;
  readonly browser?: Browser;
}

/**
 * The browser part of an authorization-code sign-in with PKCE: the sign-in page, the consent
 * page, then the redirect back. The callback URL with its code, or the page that refused.
 */
export async function authorizeInBrowser(
  config: oidc.Configuration,
  signIn: BrowserSignIn,
): Promise<{ callback: URL | undefined; page: string; status: number; state: string }> {
  const browser = signIn.browser ?? new Browser();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: signIn.redirect,
    scope: signIn.scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(signIn.verifier),
    code_challenge_method: 'S256',
    state,
  });
  const { email, password, totp } = signIn;
  let step = await browser.follow(url.href, signIn.redirect);
  for (let pages = 0; pages < 4 && !step.url.startsWith(signIn.redirect); pages++) {
    const page = step.reply.body as string;
    const form: Record<string, string> = page.includes('name="password"')
      ? { step: 'login', email, password, ...(totp === undefined ? {} : { totp }) }
      : { step: 'consent' };
    const posted = await browser.request(formAction(page, step.url), form);
    const location = posted.headers.get('location');
    if (location === null)
      return { callback: undefined, page: posted.body as string, status: posted.status, state };
    step = await browser.follow(new URL(location, step.url).href, signIn.redirect);
  }
  return { callback: new URL(step.url), page: '', status: 303, state };
}
