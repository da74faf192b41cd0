export { CLIENT_ATTRIBUTES_FILE, ClientAttributeRecord } from './client-record.ts';
export {
  type Attributes,
  SHARED_ATTRIBUTES_FILE,
  SharedAttributeCopy,
  type SharedUpdate,
} from './shared-copy.ts';
export { type SendAttributes, SharedAttributePush } from './shared-push.ts';
