/**
 * The invitation page: a plain HTML form that works without JavaScript, with no inline
 * script or style, sent under a CSP that allows nothing but posting the form to itself.
 * The link's token is in the path, so the page also forbids sending it on as a Referer.
 */
import { escapeHtml, htmlPage } from '../html/index.ts';

/** Headers of every invitation page, refusals included. */
export const INVITATION_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** The form: a new password (twice) and, optionally, a TOTP key to add to an authenticator. */
export function invitationForm(input: {
  readonly tenantName: string;
  readonly email: string;
  readonly action: string;
  readonly totpSecret: string;
  readonly totpUri: string;
  readonly minLength: number;
  readonly message?: string | undefined;
}): string {
  const notice =
    input.message === undefined
      ? ''
      : `<p role="alert"><strong>${escapeHtml(input.message)}</strong></p>\n`;
  return htmlPage(
    `Join ${input.tenantName}`,
    `<p>Set a password for <strong>${escapeHtml(input.email)}</strong>. This link works once.</p>
${notice}<form method="post" action="${escapeHtml(input.action)}">
<p><label>New password (at least ${input.minLength} characters) <input type="password" name="password" autocomplete="new-password" minlength="${input.minLength}" required></label></p>
<p><label>The same password again <input type="password" name="confirm" autocomplete="new-password" minlength="${input.minLength}" required></label></p>
<fieldset>
<legend>Second factor (optional, recommended)</legend>
<p>Add this key to your authenticator app, then enter the code it shows:</p>
<p><code>${escapeHtml(input.totpSecret)}</code></p>
<p><a href="${escapeHtml(input.totpUri)}">Open in an authenticator app</a></p>
<input type="hidden" name="totpSecret" value="${escapeHtml(input.totpSecret)}">
<p><label>Code <input type="text" name="totpCode" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}"></label></p>
</fieldset>
<p><button type="submit">Set password</button></p>
</form>`,
  );
}

/** The page after the password (and TOTP) is set. */
export function invitationDone(tenantName: string, totp: boolean): string {
  return htmlPage(
    `Welcome to ${tenantName}`,
    `<p>Your password is set${totp ? ' and your authenticator app is enrolled' : ''}. You can now sign in to ${escapeHtml(tenantName)}'s applications.</p>`,
  );
}

/** Any refusal: the message only, nothing about the tenant or the invitation. */
export function invitationProblem(title: string, message: string): string {
  return htmlPage(title, `<p>${escapeHtml(message)}</p>`);
}
