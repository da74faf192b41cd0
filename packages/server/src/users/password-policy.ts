import { PalisadeError } from '../errors/index.ts';

/** Fewest characters a password may have (NIST SP 800-63B allows 8; we ask for more). */
export const PASSWORD_MIN_LENGTH = 12;
/** Most characters accepted: bounds the work a request can ask of the hash. */
export const PASSWORD_MAX_LENGTH = 256;

/**
 * Refuses a password that is too short, too long, or the account's own email, naming `path`
 * (where the request carries it).
 */
export function checkPasswordPolicy(
  password: string,
  email: string,
  path = '/body/password',
): void {
  const length = [...password].length;
  const refuse = (why: string) =>
    new PalisadeError('PALISADE_PASSWORD_REJECTED', `the password ${why}; choose another`, [
      { path, message: why },
    ]);
  if (length < PASSWORD_MIN_LENGTH)
    throw refuse(`has fewer than ${PASSWORD_MIN_LENGTH} characters`);
  if (length > PASSWORD_MAX_LENGTH) throw refuse(`has more than ${PASSWORD_MAX_LENGTH} characters`);
  if (password.trim().toLowerCase() === email.trim().toLowerCase())
    throw refuse('is the account email');
}
