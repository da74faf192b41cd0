import type { PolicySetRow, RoleRow } from './authz-types.ts';
import { iso, json } from './row-values.ts';

/** A role row as either backend returns it. */
export interface RoleDbRow {
  name: string;
  description: string;
  permissions: string | string[];
  version: number;
  created_at: string | Date;
  updated_at: string | Date;
}

/** A policy-set row as either backend returns it. */
export interface PolicySetDbRow {
  text: string;
  version: number;
  updated_at: string | Date;
}

export function toRole(row: RoleDbRow): RoleRow {
  return {
    name: row.name,
    description: row.description,
    permissions: json(row.permissions),
    version: row.version,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export function toPolicySet(row: PolicySetDbRow): PolicySetRow {
  return { text: row.text, version: row.version, updatedAt: iso(row.updated_at) };
}

/** Parameters of a role write: name, description, permissions, version, created, updated. */
export function roleParams(row: RoleRow) {
  return [
    row.name,
    row.description,
    JSON.stringify(row.permissions),
    row.version,
    row.createdAt,
    row.updatedAt,
  ] as const;
}
