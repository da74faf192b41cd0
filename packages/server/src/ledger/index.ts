export { sealBatch } from './seal-batch.ts';
