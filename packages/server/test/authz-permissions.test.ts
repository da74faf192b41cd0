import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  BUILT_IN_ROLE_NAMES,
  BUILT_IN_ROLES,
  builtInRolePermissions,
  PERMISSIONS,
  PermissionSet,
} from '../src/authz/index.ts';

const subsets = fc.subarray([...PERMISSIONS]);

test('a permission set holds exactly what it was made of, in catalog order', () => {
  fc.assert(
    fc.property(subsets, fc.array(fc.constantFrom(...PERMISSIONS)), (subset, extra) => {
      const set = PermissionSet.of([...subset, ...subset.slice(0, 1)]);
      assert.deepEqual(set.list(), subset);
      for (const permission of PERMISSIONS)
        assert.equal(set.has(permission), subset.includes(permission), permission);
      const union = set.union(PermissionSet.of(extra));
      assert.deepEqual(
        union.list(),
        PERMISSIONS.filter((p) => subset.includes(p) || extra.includes(p)),
      );
    }),
  );
});

test('the empty and full sets, and unknown permissions', () => {
  assert.deepEqual(PermissionSet.EMPTY.list(), []);
  assert.deepEqual(PermissionSet.ALL.list(), [...PERMISSIONS]);
  assert.throws(() => PermissionSet.of(['records:delete' as never]), /unknown permission/);
});

test('built-in roles: owner holds everything; every other role is a strict subset of it', () => {
  assert.deepEqual(builtInRolePermissions('owner').list(), [...PERMISSIONS]);
  for (const role of BUILT_IN_ROLE_NAMES) {
    assert.deepEqual(
      builtInRolePermissions(role).list(),
      PERMISSIONS.filter((p) => BUILT_IN_ROLES[role].includes(p)),
      role,
    );
    if (role !== 'owner')
      assert.ok(builtInRolePermissions(role).list().length < PERMISSIONS.length, role);
  }
  for (const governance of ['roles:write', 'policies:write', 'keys:rotate'] as const)
    assert.equal(builtInRolePermissions('admin').has(governance), false, governance);
  assert.deepEqual(builtInRolePermissions('device').list(), ['telemetry:write']);
});

test('rpc:read: the roles that send RPC read its answers; viewer and device do not', () => {
  for (const role of ['owner', 'admin', 'developer'] as const)
    assert.ok(builtInRolePermissions(role).has('rpc:read'), role);
  for (const role of ['viewer', 'device'] as const)
    assert.equal(builtInRolePermissions(role).has('rpc:read'), false, role);
});
