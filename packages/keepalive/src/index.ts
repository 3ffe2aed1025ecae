export {
  PRESETS,
  SERVER_PROFILES,
  STRICTEST_SERVER_POLICY,
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
  type KeepaliveOptions,
  type ResolvedKeepalive,
  type ServerKeepaliveOptions,
} from './options';
export { clientKeepaliveChannelOptions, serverKeepaliveOptions } from './channel-options';
export { WatchdogChannel, connectWatchdog } from './connect-watchdog';
