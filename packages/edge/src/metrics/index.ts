export { type BacklogSource, DRAIN_WINDOW_MS, EdgeMetrics } from './edge-metrics.ts';
export { type MetricsServer, serveMetrics } from './metrics-server.ts';
