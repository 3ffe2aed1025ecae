export {
  loadBalancingConfig,
  loadBalancingChannelOptions,
  healthCheckConfig,
  type LoadBalancingOptions,
} from './options';
export {
  leaseTargetForAddresses,
  targetForAddresses,
  type AddressTargetLease,
} from './address-lease';
export { BALANCER_NAME, registerEjectingRoundRobin } from './balancer';
export { Ejector, DEFAULT_EJECTION, type EjectionConfig } from './ejector';
export {
  registerAddressSource,
  unregisterAddressSource,
  registeredAddressSources,
  REGISTRY_SCHEME,
  type AddressSource,
} from './registry';
export { staticSource, MutableSource } from './sources';
export { fileSource, type FileSourceOptions } from './file-source';
export { dnsSource, type DnsSourceOptions } from './dns-source';
export { parseAddressList, isHostPort } from './address-list';
export {
  BALANCER_MEMORY_OPTION,
  holdBalancerMemory,
  heldBalancerMemories,
  type BalancerMemory,
} from './balancer-memory';
export { P2C_BALANCER_NAME, registerP2cBalancer } from './p2c-balancer';
export { DEFAULT_DECAY_MS } from './endpoint-load';
export {
  createLoadReportInterceptor,
  reportedServerMs,
  SERVER_MS_METADATA_KEY,
} from './load-report';
