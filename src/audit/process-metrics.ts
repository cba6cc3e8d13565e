/**
 * prom-client's default process_* and nodejs_* metrics (CPU, memory, handles, event-loop lag,
 * heap, version), less nodejs_gc_duration_seconds. That one watches every GC through a
 * PerformanceObserver, and Node builds an entry object per GC to hand it: at 16,700 requests/s
 * (a scavenge every ~28 ms) what that allocated was promoted, and the old generation grew by
 * ~160 KB/s, bringing a mark-compact whose marking took 10-20 ms of the event loop's core. The
 * others are read when scraped. prom-client has no switch to leave one out, so its own metric
 * modules are loaded one by one: process-metrics.test.ts holds this list to its list.
 */
import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';

const require = createRequire(import.meta.url);

/** prom-client 15's default metrics (lib/defaultMetrics.js), in its order, without `gc`. */
export const PROCESS_METRICS = [
  'processCpuTotal',
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'eventLoopLag',
  'processResources',
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
] as const;

type DefaultMetric = (registry: Registry, config: { eventLoopMonitoringPrecision: number }) => void;

export function collectProcessMetrics(registry: Registry): void {
  for (const name of PROCESS_METRICS) {
    // Same settings as collectDefaultMetrics: event-loop lag sampled every 10 ms.
    (require(`prom-client/lib/metrics/${name}`) as DefaultMetric)(registry, { eventLoopMonitoringPrecision: 10 });
  }
}
