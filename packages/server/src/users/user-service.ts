import type { PermissionSet, RoleGrants } from '../authz/index.ts';
import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { uuid7 } from '../ids/index.ts';
import { type Precondition, readableRows, type TenantStoreLocator } from '../records/index.ts';
import type { TenantUserReader, TenantWriteTx, UserRow } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { invitationPath, newInvitationToken } from './invitation-token.ts';
import type { SignInNames } from './sign-in-names.ts';
import { ledgerStateOf, normalizeEmail, type UserView, viewOf } from './user-view.ts';

/** A one-time invitation link, shown once. */
export interface Invitation {
  readonly path: string;
  readonly expiresAt: string;
}

export interface NewUser {
  readonly email: string;
  readonly name: string;
  readonly roles: readonly string[];
}

export interface UserPatch {
  readonly name?: string;
  readonly roles?: readonly string[];
  readonly disabled?: boolean;
}

function userNotFound(): PalisadeError {
  return new PalisadeError('PALISADE_USER_NOT_FOUND', 'no such user');
}

/** No If-Match: the write goes ahead whatever the user's version. */
const UNCONDITIONAL: Precondition = { kind: 'none' };

/** Refuses a write whose If-Match does not name the user's current version. */
function checkPrecondition(precondition: Precondition, row: UserRow): void {
  if (precondition.kind !== 'versions' || precondition.versions.includes(row.version)) return;
  throw new PalisadeError(
    'PALISADE_PRECONDITION_FAILED',
    `user ${row.id} has changed; read it again for its current ETag`,
  );
}

function changedMeanwhile(): PalisadeError {
  return new PalisadeError(
    'PALISADE_PRECONDITION_FAILED',
    'the user changed while this request ran; read it again and retry',
  );
}

/**
 * A tenant's users as its admins manage them (`users:read`, `users:write`): create with an
 * invitation, list, read, change name, roles or disabled, delete, re-invite, reset TOTP.
 * Every change is a ledger entry in the change's own transaction.
 */
export class UserService {
  readonly #locate: TenantStoreLocator;
  readonly #committer: GroupCommitter;
  readonly #invitationTtlMs: number;
  readonly #roles: RoleGrants;
  readonly #names: SignInNames;
  readonly #clock: () => number;

  constructor(options: {
    locate: TenantStoreLocator;
    committer: GroupCommitter;
    invitationTtlMs: number;
    roles: RoleGrants;
    /** Keys the users' names to find their failed sign-ins. */
    names: SignInNames;
    /** Epoch milliseconds now (tests move it). */
    clock?: (() => number) | undefined;
  }) {
    this.#locate = options.locate;
    this.#committer = options.committer;
    this.#invitationTtlMs = options.invitationTtlMs;
    this.#roles = options.roles;
    this.#names = options.names;
    this.#clock = options.clock ?? Date.now;
  }

  /** The roles, without repeats, once the caller (holding `held`) may give each. */
  async #grantable(
    context: TenantContext,
    held: PermissionSet,
    roles: readonly string[],
  ): Promise<string[]> {
    const unique = [...new Set(roles)];
    await this.#roles.checkGrantable(context.tenant, held, unique);
    return unique;
  }

  /** Creates a user with roles the caller (holding `held`) may give, and its invitation. */
  async create(
    context: TenantContext,
    user: NewUser,
    held: PermissionSet,
  ): Promise<{ user: UserView; invitation: Invitation }> {
    const email = normalizeEmail(user.email);
    const roles = await this.#grantable(context, held, user.roles);
    const { token, tokenHash } = newInvitationToken();
    const now = new Date(this.#clock());
    const expiresAt = new Date(now.getTime() + this.#invitationTtlMs).toISOString();
    // Keyed before the transaction: a key-cache miss loads keys on another connection.
    const nameKeys = await this.#names.keysOf(context.tenant, [email]);
    const view = await this.#committer.submit(await this.#locate(context), async (tx, record) => {
      if ((await tx.users.getUserByEmail(email)) !== undefined) {
        throw new PalisadeError(
          'PALISADE_USER_EMAIL_TAKEN',
          `another user of this tenant has the email ${email}`,
          [{ path: '/body/email', message: 'is taken' }],
        );
      }
      const row: UserRow = {
        id: uuid7(),
        email,
        name: user.name,
        roles,
        disabled: false,
        passwordHash: null,
        totp: null,
        totpLastStep: null,
        version: 1,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        sessionsNotBefore: null,
        keptSignIn: null,
        totpPending: null,
      };
      await tx.users.insertUser(row);
      await tx.users.putInvitation({
        userId: row.id,
        tokenHash,
        expiresAt,
        createdAt: now.toISOString(),
      });
      record({
        actor: context.actor.id,
        action: 'users.create',
        resource: `users/${row.id}`,
        state: ledgerStateOf(row),
      });
      record({
        actor: context.actor.id,
        action: 'users.invite',
        resource: `users/${row.id}`,
        state: { id: row.id, expiresAt },
      });
      return (await keyedViews(tx.users, [row], nameKeys))[0]!;
    });
    return {
      user: view,
      invitation: { path: invitationPath(context.tenant.slug, token), expiresAt },
    };
  }

  /**
   * The first `limit` users after `after` that the caller may read (`readable`, by id), as if
   * no other existed, and whether another follows (see readableRows).
   */
  async list(
    context: TenantContext,
    after: string | undefined,
    limit: number,
    readable: (id: string) => boolean,
  ): Promise<{ items: UserView[]; more: boolean }> {
    const { reader } = await this.#locate(context);
    const { items, more } = await readableRows(
      (from, count) => reader.users.listUsers({ after: from, limit: count }),
      (row) => readable(row.id),
      after,
      limit,
    );
    return { items: await views(this.#names, reader.users, context, items), more };
  }

  async get(context: TenantContext, id: string): Promise<UserView> {
    const { reader } = await this.#locate(context);
    const row = await reader.users.getUser(id);
    if (row === undefined) throw userNotFound();
    return (await views(this.#names, reader.users, context, [row]))[0]!;
  }

  /**
   * Changes a user; new roles must be ones the caller (holding `held`) may give, and the
   * user's current roles must be within the caller's permissions too. Disabling ends the
   * user's sign-ins for good: enabling them again does not bring those sessions back. With a
   * precondition (If-Match), only a user still at one of its versions is changed.
   */
  async update(
    context: TenantContext,
    id: string,
    patch: UserPatch,
    held: PermissionSet,
    precondition: Precondition = UNCONDITIONAL,
  ): Promise<UserView> {
    const roles =
      patch.roles === undefined ? undefined : await this.#grantable(context, held, patch.roles);
    return this.#change(context, id, held, precondition, 'users.update', (row, now) => {
      const disabling = patch.disabled === true && !row.disabled;
      return {
        ...row,
        name: patch.name ?? row.name,
        roles: roles ?? row.roles,
        disabled: patch.disabled ?? row.disabled,
        sessionsNotBefore: disabling ? now : row.sessionsNotBefore,
        keptSignIn: disabling ? null : row.keptSignIn,
      };
    });
  }

  /**
   * Removes the TOTP second factor, and ends the sign-ins made with it; the user signs in with
   * the password alone until re-enrolled.
   */
  async resetTotp(
    context: TenantContext,
    id: string,
    held: PermissionSet,
    precondition: Precondition = UNCONDITIONAL,
  ): Promise<UserView> {
    return this.#change(context, id, held, precondition, 'users.totp-reset', (row, now) => ({
      ...row,
      totp: null,
      totpLastStep: null,
      totpPending: null,
      sessionsNotBefore: now,
      keptSignIn: null,
    }));
  }

  async remove(
    context: TenantContext,
    id: string,
    held: PermissionSet,
    precondition: Precondition = UNCONDITIONAL,
  ): Promise<void> {
    await this.#committer.submit(await this.#locate(context), async (tx, record) => {
      checkPrecondition(
        precondition,
        await this.#manageable(context, held, await tx.users.getUser(id)),
      );
      if (!(await tx.users.deleteUser(id))) throw userNotFound();
      record({
        actor: context.actor.id,
        action: 'users.delete',
        resource: `users/${id}`,
        state: null,
      });
    });
  }

  /**
   * A new one-time invitation for the user; an earlier, unused one stops working. Whoever
   * holds the link sets the user's password, so only a caller above the user may ask.
   */
  async invite(context: TenantContext, id: string, held: PermissionSet): Promise<Invitation> {
    const { token, tokenHash } = newInvitationToken();
    const now = new Date(this.#clock());
    const expiresAt = new Date(now.getTime() + this.#invitationTtlMs).toISOString();
    await this.#committer.submit(await this.#locate(context), async (tx, record) => {
      await this.#manageable(context, held, await tx.users.getUser(id));
      await tx.users.putInvitation({
        userId: id,
        tokenHash,
        expiresAt,
        createdAt: now.toISOString(),
      });
      record({
        actor: context.actor.id,
        action: 'users.invite',
        resource: `users/${id}`,
        state: { id, expiresAt },
      });
    });
    return { path: invitationPath(context.tenant.slug, token), expiresAt };
  }

  /**
   * A caller acts on a user (changes, disables, deletes, re-invites, resets the TOTP of)
   * only when its own permissions cover the user's: an `admin` who could re-invite an
   * `owner` would set the owner's password and sign in as the owner.
   */
  async #manageable(
    context: TenantContext,
    held: PermissionSet,
    row: UserRow | undefined,
  ): Promise<UserRow> {
    if (row === undefined) throw userNotFound();
    await this.#roles.checkCovers(context.tenant, held, row.roles, `acting on the user ${row.id}`);
    return row;
  }

  async #change(
    context: TenantContext,
    id: string,
    held: PermissionSet,
    precondition: Precondition,
    action: string,
    /** The changed row, given the row and the time now (ISO 8601). */
    change: (row: UserRow, now: string) => UserRow,
  ): Promise<UserView> {
    const store = await this.#locate(context);
    // A user's email never changes, so its name is keyed before the transaction: a key-cache
    // miss inside it would load keys on a second connection while holding the first.
    const before = await store.reader.users.getUser(id);
    if (before === undefined) throw userNotFound();
    const nameKeys = await this.#names.keysOf(context.tenant, [before.email]);
    return this.#committer.submit(store, async (tx, record) => {
      const row = await this.#manageable(context, held, await tx.users.getUser(id));
      if (row.email !== before.email) throw changedMeanwhile();
      checkPrecondition(precondition, row);
      const now = new Date(this.#clock()).toISOString();
      const next = await writeChange(tx, row, now, (row) => change(row, now));
      record({
        actor: context.actor.id,
        action,
        resource: `users/${id}`,
        state: ledgerStateOf(next),
      });
      return (await keyedViews(tx.users, [next], nameKeys))[0]!;
    });
  }
}

/**
 * The users as the API shows them, with the failed sign-ins of their emails. Keys the names,
 * so never inside a write transaction: use keyedViews there.
 */
async function views(
  names: SignInNames,
  users: TenantUserReader,
  context: TenantContext,
  rows: readonly UserRow[],
): Promise<UserView[]> {
  const keys = await names.keysOf(
    context.tenant,
    rows.map((row) => row.email),
  );
  return keyedViews(users, rows, keys);
}

/** As views, with each row's name key (`keys[i]` is `rows[i]`'s) already computed. */
async function keyedViews(
  users: TenantUserReader,
  rows: readonly UserRow[],
  keys: readonly string[],
): Promise<UserView[]> {
  const failures = new Map(
    (await users.getSignInFailures(keys)).map((failure) => [failure.nameKey, failure]),
  );
  return rows.map((row, i) => viewOf(row, failures.get(keys[i]!)));
}

/**
 * Reads the user, writes `change` of it with the next version, updated at `now`; refuses if it
 * moved meanwhile.
 */
export async function applyChange(
  tx: TenantWriteTx,
  id: string,
  now: string,
  change: (row: UserRow) => UserRow,
): Promise<UserRow> {
  const row = await tx.users.getUser(id);
  if (row === undefined) throw userNotFound();
  return writeChange(tx, row, now, change);
}

/** Writes `change` of `row`, read in this transaction, with the next version. */
async function writeChange(
  tx: TenantWriteTx,
  row: UserRow,
  now: string,
  change: (row: UserRow) => UserRow,
): Promise<UserRow> {
  const next: UserRow = {
    ...change(row),
    id: row.id,
    version: row.version + 1,
    updatedAt: now,
  };
  if (!(await tx.users.updateUser(next, row.version))) throw changedMeanwhile();
  return next;
}
