import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { SERVICE_BUCKETS_S } from '../../model/station.ts';

/**
 * The metrics every mock exposes, labelled by `dependency`, so that one dashboard row and one set of
 * recording rules serve Dukcapil, Dapodik, DTKS, email and upload alike. Saturation is
 * station_in_flight / station_capacity; queueing is station_queue_depth / station_queue_capacity.
 */
export interface StationMetrics {
  registry: Registry;
  requests: Counter<'dependency' | 'outcome'>;
  duration: Histogram<'dependency' | 'outcome'>;
  service: Histogram<'dependency'>;
  inFlight: Gauge<'dependency'>;
  capacity: Gauge<'dependency'>;
  queueDepth: Gauge<'dependency'>;
  queueCapacity: Gauge<'dependency'>;
  rejections: Counter<'dependency' | 'reason'>;
  configChanges: Counter<'dependency'>;
}

export function createStationMetrics(registry: Registry = new Registry()): StationMetrics {
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'station_requests_total',
      help: 'Requests answered by the mock dependency, by outcome (ok, error, rejected, timeout)',
      labelNames: ['dependency', 'outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'station_request_duration_seconds',
      help: 'Time from arrival to answer, queueing included',
      labelNames: ['dependency', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30],
      registers: [registry],
    }),
    service: new Histogram({
      name: 'station_service_seconds',
      help: 'Time a server was held, from taking the request to its answer, queueing excluded; a service cut at the deadline or by the caller going away is not counted',
      labelNames: ['dependency'],
      buckets: SERVICE_BUCKETS_S,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'station_in_flight',
      help: 'Requests being served now (busy servers)',
      labelNames: ['dependency'],
      registers: [registry],
    }),
    capacity: new Gauge({
      name: 'station_capacity',
      help: 'Servers of the station (concurrency limit)',
      labelNames: ['dependency'],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'station_queue_depth',
      help: 'Requests waiting for a server',
      labelNames: ['dependency'],
      registers: [registry],
    }),
    queueCapacity: new Gauge({
      name: 'station_queue_capacity',
      help: 'Places in the waiting room; one more arrival is rejected',
      labelNames: ['dependency'],
      registers: [registry],
    }),
    rejections: new Counter({
      name: 'station_rejections_total',
      help: 'Requests refused, by reason (queue_full, timeout, injected_error, bad_request)',
      labelNames: ['dependency', 'reason'],
      registers: [registry],
    }),
    configChanges: new Counter({
      name: 'station_config_changes_total',
      help: 'Capacity or fault changes made through the admin endpoint (fault injections)',
      labelNames: ['dependency'],
      registers: [registry],
    }),
  };
}
