export type { AlertEvent } from './device-rules.ts';
export { parseRuleBook, parseRules, RuleSetError } from './parse-rules.ts';
export { alertPayload, EdgePipeline, type PipelineEvents } from './pipeline.ts';
export { EMPTY_BOOK, readRuleCache, rulesPath, writeRuleCache } from './rule-cache.ts';
export { RuleEngine } from './rule-engine.ts';
export { fetchRuleBook } from './rule-fetch.ts';
export {
  DEFAULT_RULE_REFRESH,
  RuleRefresh,
  type RuleRefreshEvents,
  type RuleRefreshSettings,
} from './rule-refresh.ts';
export type {
  Aggregate,
  AlertRule,
  DeadbandRule,
  DeviceType,
  DownsampleRule,
  FilterRule,
  RenameRule,
  Rule,
  RuleBook,
  RuleSet,
  ScaleRule,
} from './rule-types.ts';
