import { renderTable, runDemo } from './index';

it('runs every phase through both clients and reports them', async () => {
  const results = await runDemo({ phaseMs: 400, callsPerSecond: 50 });
  expect(results.map((r) => r.name)).toEqual([
    'healthy',
    'backend killed',
    'blackholed',
    'error storm',
    'slow backend',
    'recovery',
  ]);
  const [healthy] = results;
  expect(healthy.layer.successPercent).toBe(100);
  expect(healthy.plain.successPercent).toBe(100);
  for (const { layer, plain } of results) {
    expect(layer.calls).toBeGreaterThan(10);
    expect(plain.calls).toBe(layer.calls); // the same traffic
    expect(layer.outlivedDeadline).toBe(0);
  }
  const storm = results[3];
  expect(storm.layer.breakerOpens).toBeGreaterThanOrEqual(1); // the storm opens the breaker
  const table = renderTable(results);
  expect(table.split('\n')).toHaveLength(2 + 12);
  expect(table).toContain('grpc-resilience');
  expect(table).toContain('plain grpc-js');
}, 30_000);
