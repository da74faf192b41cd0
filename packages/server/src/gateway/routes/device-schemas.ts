/** Schemas shared by the device route modules. */

import { DEVICE_NAME_MAX_LENGTH } from '../../devices/index.ts';
import { UUID } from '../schemas.ts';

export const DEVICE_TAGS = ['devices'];
export const TIMESTAMP = { type: 'string', format: 'date-time' } as const;
const KEY = { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' } as const;
export const DEVICE_FIELDS = {
  name: { type: 'string', minLength: 1, maxLength: DEVICE_NAME_MAX_LENGTH },
  type: { type: 'string', minLength: 1, maxLength: 64 },
  labels: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 64 } },
  attributes: { type: 'object', additionalProperties: true },
  telemetryKeys: { type: ['array', 'null'], maxItems: 1024, items: KEY },
  edgeNodeId: { type: ['string', 'null'], format: 'uuid' },
  gatewayId: { type: ['string', 'null'], format: 'uuid' },
} as const;
export const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: UUID },
} as const;
