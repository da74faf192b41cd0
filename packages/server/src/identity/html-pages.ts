/**
 * The issuer's pages: plain server-rendered HTML forms that work without JavaScript and carry
 * no inline script or style, served under a CSP that allows neither.
 */
import { escapeHtml, htmlPage } from '../html/index.ts';

/** The CSP of every issuer page: nothing but the page itself and form posts. */
export const PAGE_CSP =
  "default-src 'none'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/**
 * The CSP of everything else the issuer answers. `oidc-provider`'s auto-submitting form
 * (`form_post`, the device code link) adds its one script's hash to `script-src`; without
 * JavaScript the form's own button submits it.
 */
export const PROVIDER_CSP =
  "default-src 'none'; script-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/** Headers every issuer page is sent with. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': PAGE_CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function notice(message: string | undefined): string {
  return message === undefined
    ? ''
    : `<p role="alert"><strong>${escapeHtml(message)}</strong></p>\n`;
}

/** The sign-in form of an interaction. */
export function signInPage(input: {
  tenantName: string;
  clientName: string;
  action: string;
  email?: string | undefined;
  message?: string | undefined;
}): string {
  return htmlPage(
    `Sign in to ${input.tenantName}`,
    `<p>${escapeHtml(input.clientName)} asks you to sign in.</p>
${notice(input.message)}<form method="post" action="${escapeHtml(input.action)}">
<input type="hidden" name="step" value="login">
<p><label>Email <input type="email" name="email" autocomplete="username" required value="${escapeHtml(input.email ?? '')}"></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
<p><label>Authenticator code (if you set one up) <input type="text" name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}"></label></p>
<p><button type="submit">Sign in</button></p>
</form>
<form method="post" action="${escapeHtml(input.action)}"><input type="hidden" name="step" value="abort"><button type="submit">Cancel</button></form>`,
  );
}

/** The consent form of an interaction. */
export function consentPage(input: {
  tenantName: string;
  clientName: string;
  action: string;
  scopes: readonly string[];
}): string {
  const items = input.scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join('');
  return htmlPage(
    `Allow ${input.clientName}?`,
    `<p>${escapeHtml(input.clientName)} asks to act for you in ${escapeHtml(input.tenantName)} with your roles.</p>
${items === '' ? '' : `<ul>${items}</ul>`}
<form method="post" action="${escapeHtml(input.action)}"><input type="hidden" name="step" value="consent"><button type="submit">Allow</button></form>
<form method="post" action="${escapeHtml(input.action)}"><input type="hidden" name="step" value="abort"><button type="submit">Deny</button></form>`,
  );
}

/** The device flow's code entry (RFC 8628 verification URI). */
export function userCodePage(input: { form: string; message?: string | undefined }): string {
  return htmlPage(
    'Connect a device',
    `${notice(input.message)}<p>Enter the code the device shows.</p>
${input.form}`,
  );
}

/** The device flow's confirmation of the device the code belongs to. */
export function userCodeConfirmPage(input: {
  form: string;
  clientName: string;
  userCode: string;
}): string {
  return htmlPage(
    'Confirm the device',
    `<p>${escapeHtml(input.clientName)} shows the code <strong>${escapeHtml(input.userCode)}</strong>. Continue only if this is the device in front of you.</p>
${input.form}`,
  );
}

/** A page with a title, one sentence and, optionally, a form the provider made. */
export function messagePage(title: string, message: string, form = ''): string {
  return htmlPage(title, `<p>${escapeHtml(message)}</p>\n${form}`);
}
