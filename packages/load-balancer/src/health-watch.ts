import {
  Client,
  Metadata,
  credentials,
  status as Status,
  type ClientReadableStream,
} from '@grpc/grpc-js';

/** `grpc.health.v1.Health/Watch`, the streaming health method of gRFC A17. */
const WATCH_PATH = '/grpc.health.v1.Health/Watch';
/** `HealthCheckResponse.ServingStatus.SERVING`. */
const SERVING = 1;
/** Wait before watching again after the stream failed, ms (A17 retries with backoff). */
const RETRY_DELAY_MS = 1000;

/** HealthCheckRequest { string service = 1 }: the protobuf bytes, written by hand. */
function encodeRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const length: number[] = [];
  let n = name.length;
  do {
    length.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x0a, ...length]), name]);
}

/** HealthCheckResponse { ServingStatus status = 1 }: the varint of field 1, 0 (UNKNOWN) if absent. */
function decodeStatus(bytes: Buffer): number {
  for (let i = 0; i < bytes.length;) {
    const tag = bytes[i++];
    let value = 0;
    let shift = 0;
    while (i < bytes.length) {
      const byte = bytes[i++];
      value |= (byte & 0x7f) << shift;
      shift += 7;
      if (byte < 0x80) break;
    }
    if (tag === 0x08) return value;
    if ((tag & 7) !== 0) return 0; // not the shape this message has: UNKNOWN
  }
  return 0;
}

/**
 * Client-side health checking of one endpoint (gRFC A17, which grpc-js does not implement): a
 * `Health/Watch` stream for `serviceName`, whose answers say whether the endpoint may get calls.
 * A server without the health service (UNIMPLEMENTED) is taken as healthy, as A17 says; any other
 * end of the stream makes the endpoint unhealthy until a new stream says otherwise. It watches
 * over its own connection to the address (grpc-js gives a policy no way to start a call on a
 * subchannel), which sees the same server process.
 */
export class HealthWatch {
  /** Whether the endpoint may get calls; false until the first answer. */
  healthy = false;
  /**
   * Whether a watch has answered yet. Until then the endpoint is still connecting, as A17 has
   * it: calls wait for the answer rather than fail for want of a SERVING endpoint.
   */
  answered = false;
  private readonly client: Client;
  private call: ClientReadableStream<number> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    address: string,
    private readonly serviceName: string,
    private readonly onChange: () => void,
  ) {
    this.client = new Client(address, credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 5000,
    });
    this.watch();
  }

  private watch(): void {
    if (this.closed) return;
    const call = this.client.makeServerStreamRequest(
      WATCH_PATH,
      () => encodeRequest(this.serviceName),
      decodeStatus,
      {},
      new Metadata({ waitForReady: true }),
      {},
    );
    this.call = call;
    call.on('data', (status: number) => this.set(status === SERVING));
    call.on('error', () => undefined); // the status below says how it ended
    call.on('status', ({ code }) => {
      if (this.closed || call !== this.call) return;
      this.set(code === Status.UNIMPLEMENTED);
      this.timer = setTimeout(() => this.watch(), RETRY_DELAY_MS);
      this.timer.unref();
    });
  }

  private set(healthy: boolean): void {
    if (healthy === this.healthy && this.answered) return;
    this.healthy = healthy;
    this.answered = true;
    this.onChange();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.call?.cancel();
    this.client.close();
  }
}

/** The `healthCheckConfig.serviceName` of the channel's service config, if it names one. */
export function healthServiceName(serviceConfig: unknown): string | undefined {
  if (typeof serviceConfig !== 'string') return undefined;
  try {
    const name = (JSON.parse(serviceConfig) as { healthCheckConfig?: { serviceName?: unknown } })
      .healthCheckConfig?.serviceName;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}
