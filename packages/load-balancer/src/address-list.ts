/** `host:port` with a hostname, an IPv4 literal or a bracketed IPv6 literal, and a port. */
const HOST_PORT = /^(\[[0-9a-fA-F:.%\w]+\]|[\w.-]+):(\d{1,5})$/;

/** Whether `address` is a `host:port` the resolvers accept (port 1 to 65535). */
export function isHostPort(address: unknown): address is string {
  if (typeof address !== 'string') return false;
  const match = HOST_PORT.exec(address);
  if (!match) return false;
  const port = Number(match[2]);
  return port >= 1 && port <= 65_535;
}

/**
 * Parses a JSON array of addresses, or one address per line (blank lines and `#` comments
 * skipped). Throws on anything else, naming the first bad entry, so that a half-written or
 * mistyped file is refused as a whole instead of replacing a good list with part of one: an
 * empty text is refused too (a writer truncates before it writes).
 */
export function parseAddressList(text: string): string[] {
  const trimmed = text.trim();
  let addresses: unknown[];
  if (trimmed.startsWith('[')) {
    try {
      addresses = JSON.parse(trimmed) as unknown[];
    } catch (error) {
      throw new Error(`not a complete JSON array: ${(error as Error).message}`, { cause: error });
    }
    if (!Array.isArray(addresses)) throw new Error('not a JSON array of "host:port" strings');
  } else {
    addresses = trimmed
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim())
      .filter((line) => line.length > 0);
  }
  if (addresses.length === 0) throw new Error('no addresses (an empty or half-written list)');
  const bad = addresses.findIndex((address) => !isHostPort(address));
  if (bad >= 0)
    throw new Error(`entry ${bad + 1} is not host:port: ${JSON.stringify(addresses[bad])}`);
  return addresses as string[];
}
