import {
  connectivityState as ConnectivityState,
  experimental,
  type ChannelOptions,
} from '@grpc/grpc-js';
import { balancerMemoryFor } from './balancer-memory';
import { DEFAULT_EJECTION, Ejector, type EjectionConfig } from './ejector';
import { DEFAULT_DECAY_MS, EndpointLoad } from './endpoint-load';
import { HealthWatch, healthServiceName } from './health-watch';
import { P2cPicker, type ReadyEndpoint } from './p2c-picker';

type Endpoint = experimental.Endpoint;

/** The name of the power-of-two-choices policy in a service config's `loadBalancingConfig`. */
export const P2C_BALANCER_NAME = 'grpc_resilience_p2c';

/** The parsed `grpc_resilience_p2c` config. */
export class P2cConfig implements experimental.TypedLoadBalancingConfig {
  constructor(
    readonly ejection: EjectionConfig,
    readonly decayMs: number,
    readonly slowStartMs: number = 0,
    readonly panicThreshold: number = 0,
    /** Whether the servers' load reports feed the latency estimate (see `load-report.ts`). */
    readonly useServerLoadReports: boolean = true,
  ) {}
  getLoadBalancerName(): string {
    return P2C_BALANCER_NAME;
  }
  toJsonObject(): object {
    const { decayMs, slowStartMs, panicThreshold, useServerLoadReports } = this;
    return {
      [P2C_BALANCER_NAME]: {
        ...this.ejection,
        decayMs,
        slowStartMs,
        panicThreshold,
        useServerLoadReports,
      },
    };
  }
  static createFromJson(json: unknown): P2cConfig {
    const input = (json ?? {}) as Record<string, unknown>;
    const read = (key: string, fallback: number, ok: (value: number) => boolean): number => {
      const value = input[key] ?? fallback;
      if (typeof value !== 'number' || !ok(value))
        throw new Error(`${P2C_BALANCER_NAME}.${key}: invalid value ${String(value)}`);
      return value;
    };
    const positive = (v: number) => Number.isInteger(v) && v >= 1;
    const reports = input.useServerLoadReports ?? true;
    if (typeof reports !== 'boolean')
      throw new Error(
        `${P2C_BALANCER_NAME}.useServerLoadReports: invalid value ${String(reports)}`,
      );
    return new P2cConfig(
      {
        consecutiveFailures: read(
          'consecutiveFailures',
          DEFAULT_EJECTION.consecutiveFailures,
          positive,
        ),
        baseEjectionMs: read('baseEjectionMs', DEFAULT_EJECTION.baseEjectionMs, positive),
        maxEjectionMs: read('maxEjectionMs', DEFAULT_EJECTION.maxEjectionMs, positive),
        maxEjectedShare: read(
          'maxEjectedShare',
          DEFAULT_EJECTION.maxEjectedShare,
          (v) => v >= 0 && v <= 1,
        ),
      },
      read('decayMs', DEFAULT_DECAY_MS, positive),
      read('slowStartMs', 0, (v) => Number.isInteger(v) && v >= 0),
      read('panicThreshold', 0, (v) => v >= 0 && v <= 1),
      reports,
    );
  }
}

interface Child {
  readonly address: string;
  readonly leaf: experimental.LeafLoadBalancer;
  /** When it last became READY, if slow start applies to it (else 0). */
  readySince: number;
  wasReady: boolean;
  /**
   * Whether it comes back cold: it was READY before (a restarted backend), or it joined the
   * list after the first (a new pod). The first connections of the first list are not ramped.
   */
  cold: boolean;
  health?: HealthWatch;
}

/**
 * Power of two choices on load, as a grpc-js LB policy built like grpc-js's own `round_robin`:
 * one `LeafLoadBalancer` (pick_first on one endpoint: its subchannel, reconnection backoff and
 * keepalive are grpc-js's) per endpoint, and a picker over the READY ones that weighs their load
 * (see {@link P2cPicker}). Ejection and the endpoints' load outlive pickers, and the ejections
 * outlive the balancer itself when the channel's options name a shared memory.
 */
export class P2cBalancer implements experimental.LoadBalancer {
  private children = new Map<string, Child>();
  private readonly loads = new Map<string, EndpointLoad>();
  private ejector = new Ejector();
  private config = new P2cConfig(DEFAULT_EJECTION, DEFAULT_DECAY_MS);
  private healthService: string | undefined;
  /** Whether a list was taken already: endpoints of later lists join cold. */
  private listed = false;
  private readonly childHelper: experimental.ChannelControlHelper;
  private state = ConnectivityState.IDLE;
  private updatesPaused = false;
  private lastError: string | null = null;

  constructor(private readonly helper: experimental.ChannelControlHelper) {
    this.childHelper = experimental.createChildChannelControlHelper(helper, {
      updateState: (_state, _picker, error) => {
        if (error) this.lastError = error;
        this.update();
      },
    });
  }

  updateAddressList(
    endpoints: experimental.StatusOr<Endpoint[]>,
    config: experimental.TypedLoadBalancingConfig,
    options: ChannelOptions,
    note: string,
  ): boolean {
    if (!(config instanceof P2cConfig)) return false;
    const memory = balancerMemoryFor(options);
    if (memory) this.ejector = memory.ejector;
    this.ejector.config = config.ejection;
    this.config = config;
    const healthService = healthServiceName(options['grpc.service_config']);
    if (healthService !== this.healthService) {
      // Watches for the old name end; the children below start watches for the new one.
      for (const child of this.children.values()) child.health = this.closeHealth(child);
      this.healthService = healthService;
    }
    if (!endpoints.ok) {
      // A failed resolution keeps the endpoints there are (the last good list).
      if (this.children.size === 0)
        this.publish(ConnectivityState.TRANSIENT_FAILURE, endpoints.error.details);
      return true;
    }
    const next = new Map<string, Child>();
    this.updatesPaused = true;
    for (const endpoint of endpoints.value) {
      const address = experimental.subchannelAddressToString(endpoint.addresses[0]);
      if (next.has(address)) continue;
      const existing = this.children.get(address);
      if (existing) {
        existing.leaf.updateEndpoint(endpoint, options);
        existing.health ??= this.watchHealth(address);
        next.set(address, existing);
        continue;
      }
      const leaf = new experimental.LeafLoadBalancer(endpoint, this.childHelper, options, note);
      const child: Child = { address, leaf, readySince: 0, wasReady: false, cold: this.listed };
      child.health = this.watchHealth(address);
      next.set(address, child);
      leaf.startConnecting();
    }
    for (const [address, child] of this.children) {
      if (next.has(address)) continue;
      child.leaf.destroy();
      this.closeHealth(child);
      this.loads.delete(address);
    }
    this.children = next;
    this.listed = true;
    this.ejector.setEndpoints(next.keys());
    this.updatesPaused = false;
    if (next.size === 0)
      this.publish(ConnectivityState.TRANSIENT_FAILURE, `no addresses resolved: ${note}`);
    else this.update();
    return true;
  }

  private watchHealth(address: string): HealthWatch | undefined {
    if (this.healthService === undefined) return undefined;
    return new HealthWatch(address, this.healthService, () => this.update());
  }

  private closeHealth(child: Child): undefined {
    child.health?.close();
    return undefined;
  }

  /**
   * The channel's state and picker from the children's: READY if any is. With health checking,
   * only SERVING endpoints get calls, unless fewer than `panicThreshold` of all endpoints are
   * READY and SERVING: then every READY one does (Envoy's panic mode), rather than piling the
   * whole load onto the few left.
   */
  private update(): void {
    if (this.updatesPaused) return;
    const ready: ReadyEndpoint[] = [];
    const serving: ReadyEndpoint[] = [];
    let connecting = false;
    let failing = false;
    // READY, but its health watch has not answered yet: still connecting (A17).
    let awaitingHealth = false;
    const now = Date.now();
    for (const child of this.children.values()) {
      const state = child.leaf.getConnectivityState();
      if (state === ConnectivityState.READY) {
        if (!child.wasReady) child.readySince = child.cold ? now : 0;
        child.wasReady = child.cold = true;
        const endpoint = this.readyEndpoint(child);
        ready.push(endpoint);
        if (child.health === undefined || child.health.healthy) serving.push(endpoint);
        else if (!child.health.answered) awaitingHealth = true;
        continue;
      }
      child.wasReady = false;
      // Its calls ended with its connection: whatever count a lost pick left is void.
      const load = this.loads.get(child.address);
      if (load) load.inFlight = 0;
      if (state === ConnectivityState.CONNECTING) connecting = true;
      else if (state === ConnectivityState.TRANSIENT_FAILURE) failing = true;
      // Every endpoint stays connected, as round_robin keeps them.
      else if (state === ConnectivityState.IDLE) child.leaf.exitIdle();
    }
    if (this.state === ConnectivityState.READY && ready.length < this.children.size)
      this.helper.requestReresolution();
    // No panic over endpoints whose health is not known yet: their first answers are coming.
    const panic =
      !awaitingHealth && serving.length < this.config.panicThreshold * this.children.size;
    const usable = panic ? ready : serving;
    if (usable.length > 0) {
      this.state = ConnectivityState.READY;
      this.helper.updateState(
        ConnectivityState.READY,
        new P2cPicker(usable, {
          ejector: this.ejector,
          decayMs: this.config.decayMs,
          slowStartMs: this.config.slowStartMs,
          useServerLoadReports: this.config.useServerLoadReports,
          random: Math.random,
          now: Date.now,
        }),
        null,
      );
    } else if (ready.length > 0 && !awaitingHealth) {
      this.publish(
        ConnectivityState.TRANSIENT_FAILURE,
        `no endpoint is SERVING ${this.healthService ?? ''} by its health service`,
      );
    } else if (connecting || awaitingHealth || !failing) {
      this.state =
        connecting || awaitingHealth ? ConnectivityState.CONNECTING : ConnectivityState.IDLE;
      this.helper.updateState(this.state, new experimental.QueuePicker(this), null);
    } else {
      this.publish(
        ConnectivityState.TRANSIENT_FAILURE,
        `no connection established: ${this.lastError}`,
      );
    }
  }

  private readyEndpoint(child: Child): ReadyEndpoint {
    let load = this.loads.get(child.address);
    if (!load) this.loads.set(child.address, (load = new EndpointLoad()));
    return {
      address: child.address,
      picker: child.leaf.getPicker(),
      load,
      readySince: child.readySince,
    };
  }

  private publish(state: ConnectivityState, details: string): void {
    this.state = state;
    this.helper.updateState(state, new experimental.UnavailablePicker({ details }), details);
  }

  exitIdle(): void {
    for (const child of this.children.values()) child.leaf.exitIdle();
  }
  resetBackoff(): void {
    // Each endpoint's pick_first owns its backoff.
  }
  destroy(): void {
    for (const child of this.children.values()) {
      child.leaf.destroy();
      this.closeHealth(child);
    }
    this.children.clear();
  }
  getTypeName(): string {
    return P2C_BALANCER_NAME;
  }
}

/** Registers the policy with grpc-js, once per process. */
export function registerP2cBalancer(): void {
  if (experimental.isLoadBalancerNameRegistered(P2C_BALANCER_NAME)) return;
  experimental.registerLoadBalancerType(P2C_BALANCER_NAME, P2cBalancer, P2cConfig);
}
