/**
 * Polls `condition` every `intervalMs` (default 5) until it holds; rejects after `timeoutMs`
 * (default 2000). For asserting on events another process or socket causes, without a fixed sleep.
 */
export async function waitUntil(
  condition: () => boolean,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const { timeoutMs = 2000, intervalMs = 5 } = options;
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
