import {
  IN_FLIGHT,
  clientFor,
  drive,
  layer,
  REPORTING,
  warmUp,
  withBackends,
  type BalancingRow,
} from './balancing-drive';

/** One backend `slowMs`, two `fastMs`: issue 14's row, or the same ratio scaled. */
export interface SlowBackendPlan {
  fastMs: number;
  slowMs: number;
  /** Said in the scenario label when the delays are not the issue's. */
  scaling?: string;
  calls: number;
  /** How long p2c's clients carry load before the measured calls, ms. */
  settleMs: number;
}

/**
 * One backend 10x slower than two others: an all-fast reference run, then p2c and round-robin
 * (the layer's and raw grpc-js's) over the same three backends. p2c's row meets its target when
 * every call is OK, the slow one serves under 5% of them, and p99 is within 1.5x the reference's.
 */
export async function slowBackendRows(plan: SlowBackendPlan): Promise<BalancingRow[]> {
  const { fastMs, slowMs, scaling, calls, settleMs } = plan;
  const after = `after ${settleMs / 1000} s of load`;
  const scaled = scaling === undefined ? '' : `, ${scaling}`;
  const scenario = `3 backends, b0 ${slowMs} ms, others ${fastMs} ms${scaled}, ${IN_FLIGHT} in flight, ${after}, ${REPORTING}`;
  const rows: BalancingRow[] = [];
  const healthy = await withBackends([fastMs, fastMs, fastMs], async (backends) => {
    const client = clientFor(
      'layer',
      backends.map((b) => b.address),
      layer({}),
    );
    try {
      await warmUp(client, settleMs);
      return await drive(client, calls, new Set(['b0']));
    } finally {
      client.close();
    }
  });
  rows.push({
    scenario: `3 backends, all ${fastMs} ms (reference${scaled}), ${after}, ${REPORTING}`,
    config: 'layer p2c',
    ...healthy,
    target: 'reference',
  });
  await withBackends([slowMs, fastMs, fastMs], async (backends) => {
    const addresses = backends.map((b) => b.address);
    for (const [config, client] of [
      ['layer p2c (default)', clientFor('layer', addresses, layer({}))],
      // The same servers' reports ignored: p2c on the latency the client measures alone.
      [
        'layer p2c, useServerLoadReports false',
        clientFor('layer', addresses, layer({ useServerLoadReports: false })),
      ],
      ['layer round_robin', clientFor('layer', addresses, layer({ policy: 'round_robin' }))],
      ['raw grpc-js round_robin', clientFor('raw', addresses)],
    ] as const) {
      const isP2c = config.startsWith('layer p2c');
      const isDefault = config === 'layer p2c (default)';
      try {
        // round_robin keeps no estimate to settle: 500 calls warm its connections.
        await warmUp(client, isP2c ? settleMs : 0);
        const result = await drive(client, calls, new Set(['b0']));
        rows.push({
          scenario,
          config,
          ...result,
          target: isDefault ? `b0 < 5%, p99 <= 1.5x ${healthy.p99Ms.toFixed(1)} ms` : 'contrast',
          met: isDefault
            ? result.unexpected === 0 &&
              result.watchedSharePct < 5 &&
              result.p99Ms <= 1.5 * healthy.p99Ms
            : // Contrast rows still check every call's outcome.
              result.unexpected === 0,
        });
      } finally {
        client.close();
      }
    }
  });
  return rows;
}
