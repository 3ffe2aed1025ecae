export {
  PRESETS,
  SERVER_PROFILES,
  STRICTEST_SERVER_POLICY,
  PING_SAFETY_MARGIN,
  type PresetName,
  type ServerProfileName,
  type KeepalivePreset,
  type ClientKeepalive,
  type ServerKeepalive,
  type ServerPingPolicy,
} from './presets';
export {
  resolveKeepalive,
  resolveServerKeepalive,
  assertPermitted,
  type KeepaliveOptions,
  type ResolvedKeepalive,
  type ServerKeepaliveOptions,
} from './options';
export { clientKeepaliveChannelOptions, serverKeepaliveOptions } from './channel-options';
export { WatchdogChannel, connectWatchdog } from './connect-watchdog';
