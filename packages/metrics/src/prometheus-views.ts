import { INSTRUMENTS, METER_NAME, type InstrumentSpec } from './names';

/** A rename, in the shape of the OpenTelemetry SDK's `ViewOptions` (sdk-metrics 1.x and 2.x). */
export interface PrometheusView {
  readonly instrumentName: string;
  readonly meterName: string;
  readonly name: string;
}

/** The suffix Prometheus names carry for each unit the instruments use. */
const UNIT_SUFFIXES: Readonly<Record<string, string>> = Object.freeze({
  s: 'seconds',
  By: 'bytes',
  '1': 'ratio',
});

/**
 * Views that give the instruments their usual Prometheus names: `grpc.client.attempt.duration`
 * (unit `s`) becomes `grpc_client_attempt_duration_seconds`, as dashboards for gRPC's other
 * languages expect. `@opentelemetry/exporter-prometheus` 0.2xx (the Node 20 line) turns dots into
 * underscores and adds `_total` to counters, but adds no unit suffix. Pass them to the
 * `MeterProvider` whose reader is the Prometheus exporter:
 * `new MeterProvider({ readers: [exporter], views: prometheusViews() })`. A provider that also
 * exports OTLP would send the renamed instruments there too: give Prometheus its own provider.
 */
export function prometheusViews(meterName: string = METER_NAME): PrometheusView[] {
  const views: PrometheusView[] = [];
  for (const spec of Object.values(INSTRUMENTS)) {
    const name = prometheusName(spec);
    if (name !== spec.name) views.push({ instrumentName: spec.name, meterName, name });
  }
  return views;
}

/** The instrument's name with its unit's Prometheus suffix (`_seconds`, `_bytes`, `_ratio`). */
export function prometheusName({ name, unit }: InstrumentSpec): string {
  const suffix = UNIT_SUFFIXES[unit];
  return suffix ? `${name}_${suffix}` : name;
}
