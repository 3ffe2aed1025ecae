export {
  loadBalancingConfig,
  loadBalancingChannelOptions,
  targetForAddresses,
  type LoadBalancingOptions,
} from './options';
export {
  BALANCER_NAME,
  EjectingRoundRobin,
  EjectingRoundRobinConfig,
  registerEjectingRoundRobin,
} from './balancer';
export { Ejector, DEFAULT_EJECTION, type EjectionConfig } from './ejector';
export {
  registerAddressSource,
  unregisterAddressSource,
  REGISTRY_SCHEME,
  type AddressSource,
} from './registry';
export {
  staticSource,
  MutableSource,
  fileSource,
  dnsSource,
  parseAddressList,
  type DnsSourceOptions,
} from './sources';
