import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BUILT_IN_ROLE_NAMES, BUILT_IN_ROLES, PERMISSIONS } from '../src/authz/index.ts';

/** The README's roles table as rows of trimmed cells, between its markers. */
function readmeRolesTable(): string[][] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const match = /<!-- roles-table:start -->\n([\s\S]*?)\n<!-- roles-table:end -->/.exec(readme);
  assert.ok(match, 'the README has no roles table between its markers');
  return match[1]!
    .split('\n')
    .filter((_, index) => index !== 1)
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

test("the README's roles table is BUILT_IN_ROLES, permission by permission", () => {
  const expected = [
    ['permission', ...BUILT_IN_ROLE_NAMES.map((role) => `\`${role}\``)],
    ...PERMISSIONS.map((permission) => [
      `\`${permission}\``,
      ...BUILT_IN_ROLE_NAMES.map((role) =>
        (BUILT_IN_ROLES[role] as readonly string[]).includes(permission) ? '✓' : '',
      ),
    ]),
  ];
  assert.deepEqual(readmeRolesTable(), expected);
});
