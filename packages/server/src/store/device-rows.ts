import type { DeviceRow } from './device-types.ts';
import { iso, json } from './row-values.ts';

/** The device columns, in the order every device query selects them. */
export const DEVICE_COLUMNS =
  'id, name, type, labels, attributes, client_attributes, telemetry_keys, is_gateway, gateway_id, edge_node_id, version, created_at, updated_at';

/** A device row as either backend returns it (SQLite: 0/1 and JSON text; PostgreSQL: boolean, jsonb, Date). */
export interface DeviceDbRow {
  id: string;
  name: string;
  type: string;
  labels: string | string[];
  attributes: string | Record<string, unknown>;
  client_attributes: string | Record<string, unknown>;
  telemetry_keys: string | string[] | null;
  is_gateway: number | boolean;
  gateway_id: string | null;
  edge_node_id: string | null;
  version: number;
  created_at: string | Date;
  updated_at: string | Date;
}

export function toDevice(row: DeviceDbRow): DeviceRow {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    labels: json(row.labels),
    attributes: json(row.attributes),
    clientAttributes: json(row.client_attributes),
    telemetryKeys: row.telemetry_keys === null ? null : json(row.telemetry_keys),
    isGateway: row.is_gateway === true || row.is_gateway === 1,
    gatewayId: row.gateway_id,
    edgeNodeId: row.edge_node_id,
    version: row.version,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}
