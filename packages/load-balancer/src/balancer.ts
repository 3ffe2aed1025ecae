import {
  connectivityState as ConnectivityState,
  experimental,
  type ChannelOptions,
} from '@grpc/grpc-js';
import { AVOID_PEER_METADATA_KEY, LONG_LIVED_CALL_KEY } from '@grpc-resilience/status';
import { balancerMemoryFor } from './balancer-memory';
import { DEFAULT_EJECTION, Ejector, type EjectionConfig } from './ejector';
import { tellPickedPeer, type PickOptions } from './picked-peer';

type Picker = experimental.Picker;
type PickArgs = experimental.PickArgs;
type PickResult = experimental.PickResult;
type Endpoint = experimental.Endpoint;
type ChannelControlHelper = experimental.ChannelControlHelper;
type StatusOr<T> = experimental.StatusOr<T>;

/** The name of the policy in a service config's `loadBalancingConfig`. */
export const BALANCER_NAME = 'grpc_resilience_round_robin';

/**
 * Skips ejected endpoints in round_robin's rotation, and those a retry or hedge asked to avoid
 * (advice: with none other left, the rotation's pick stands), and counts each call's outcome.
 */
class EjectingPicker implements Picker {
  constructor(
    private readonly child: Picker,
    private readonly ejector: Ejector,
    private readonly endpoints: number,
  ) {}

  pick(args: PickArgs): PickResult {
    let result = this.child.pick(args);
    const avoid = args.metadata.get(AVOID_PEER_METADATA_KEY);
    // round_robin advances on every pick, so picking again moves to the next endpoint.
    for (let tries = 1; tries < this.endpoints; tries++) {
      if (result.pickResultType !== experimental.PickResultType.COMPLETE) return result;
      const candidate = result.subchannel!.getAddress();
      if (!avoid.includes(candidate) && this.ejector.admit(candidate)) break;
      result = this.child.pick(args);
    }
    if (result.pickResultType !== experimental.PickResultType.COMPLETE) return result;
    const address = result.subchannel!.getAddress();
    const options = args.metadata.getOptions() as PickOptions;
    tellPickedPeer(options, address);
    const childStarted = result.onCallStarted;
    const childEnded = result.onCallEnded;
    const streamDeadline = options[LONG_LIVED_CALL_KEY];
    // round_robin hands on its leaf's pick result, which pick_first builds fresh for each pick:
    // completed in place rather than copied.
    result.onCallStarted = () => {
      this.ejector.started(address);
      childStarted?.();
    };
    result.onCallEnded = (code, details, metadata) => {
      this.ejector.record(address, { code, details }, streamDeadline);
      childEnded?.(code, details, metadata);
    };
    return result;
  }
}

/** The parsed `grpc_resilience_round_robin` config. */
export class EjectingRoundRobinConfig implements experimental.TypedLoadBalancingConfig {
  constructor(readonly ejection: EjectionConfig) {}

  getLoadBalancerName(): string {
    return BALANCER_NAME;
  }
  toJsonObject(): object {
    return { [BALANCER_NAME]: { ...this.ejection } };
  }
  static createFromJson(json: unknown): EjectingRoundRobinConfig {
    const input = (json ?? {}) as Partial<Record<keyof EjectionConfig, unknown>>;
    const read = (key: keyof EjectionConfig, ok: (value: number) => boolean): number => {
      const value = input[key] ?? DEFAULT_EJECTION[key];
      if (typeof value !== 'number' || !ok(value))
        throw new Error(`${BALANCER_NAME}.${key}: invalid value ${String(value)}`);
      return value;
    };
    return new EjectingRoundRobinConfig({
      consecutiveFailures: read('consecutiveFailures', (v) => Number.isInteger(v) && v >= 1),
      baseEjectionMs: read('baseEjectionMs', (v) => Number.isInteger(v) && v >= 1),
      maxEjectionMs: read('maxEjectionMs', (v) => Number.isInteger(v) && v >= 1),
      maxEjectedShare: read('maxEjectedShare', (v) => v >= 0 && v <= 1),
    });
  }
}

/**
 * grpc-js's own `round_robin` as a child policy (one connection per endpoint, a call per pick,
 * re-resolution when an endpoint leaves READY), with its picker wrapped for ejection: the
 * balancing itself is grpc-js's, the ejection is ours.
 */
export class EjectingRoundRobin implements experimental.LoadBalancer {
  private readonly child: experimental.ChildLoadBalancerHandler;
  private ejector = new Ejector();
  private endpoints = 0;

  constructor(helper: ChannelControlHelper) {
    this.child = new experimental.ChildLoadBalancerHandler(
      experimental.createChildChannelControlHelper(helper, {
        updateState: (state, picker, error) => {
          const wrapped =
            state === ConnectivityState.READY
              ? new EjectingPicker(picker, this.ejector, this.endpoints)
              : picker;
          helper.updateState(state, wrapped, error);
        },
      }),
    );
  }

  updateAddressList(
    endpoints: StatusOr<Endpoint[]>,
    config: experimental.TypedLoadBalancingConfig,
    options: ChannelOptions,
    note: string,
  ): boolean {
    // Before any picker is made: a channel replacing another keeps the ejections it shared.
    const memory = balancerMemoryFor(options);
    if (memory) this.ejector = memory.ejector;
    if (config instanceof EjectingRoundRobinConfig) this.ejector.config = config.ejection;
    if (endpoints.ok) {
      this.endpoints = endpoints.value.length;
      this.ejector.setEndpoints(
        endpoints.value.flatMap((endpoint) => endpoint.addresses.map(addressKey)),
      );
    }
    return this.child.updateAddressList(endpoints, ROUND_ROBIN(), options, note);
  }
  exitIdle(): void {
    this.child.exitIdle();
  }
  resetBackoff(): void {
    this.child.resetBackoff();
  }
  destroy(): void {
    this.child.destroy();
  }
  getTypeName(): string {
    return BALANCER_NAME;
  }
}

let roundRobin: experimental.TypedLoadBalancingConfig | undefined;
const ROUND_ROBIN = () =>
  (roundRobin ??= experimental.parseLoadBalancingConfig({ round_robin: {} }));

/** The same string `subchannel.getAddress()` gives for an endpoint address. */
function addressKey(address: experimental.SubchannelAddress): string {
  return experimental.subchannelAddressToString(address);
}

/** Registers the policy with grpc-js, once per process. */
export function registerEjectingRoundRobin(): void {
  if (experimental.isLoadBalancerNameRegistered(BALANCER_NAME)) return;
  experimental.registerLoadBalancerType(
    BALANCER_NAME,
    EjectingRoundRobin,
    EjectingRoundRobinConfig,
  );
}
