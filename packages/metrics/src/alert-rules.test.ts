import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { INSTRUMENTS, prometheusViews } from './index';
import { promtool } from '@grpc-resilience/testing';

const dir = path.join(__dirname, '..', 'prometheus');
const rules = path.join(dir, 'alerts.rules.yml');

test('the alert rules pass promtool check rules', async () => {
  const checked = await promtool(['check', 'rules', rules]);
  expect(checked.stderr).toBe('');
  expect(checked.stdout).toContain('SUCCESS: 5 rules found');
  expect(checked.code).toBe(0);
});

test("the alert rules' promtool unit tests pass: each alert fires and stays quiet where it should", async () => {
  const tested = await promtool(['test', 'rules', path.join(dir, 'alerts.test.yml')]);
  expect({ code: tested.code, output: tested.stdout + tested.stderr }).toEqual({
    code: 0,
    output: expect.stringContaining('SUCCESS'),
  });
});

test('the rules read only series the package exports, by their Prometheus names', () => {
  // What the exporter makes of each instrument: prometheusViews' names, dots to underscores,
  // `_total` on counters, `_bucket`/`_count`/`_sum` on histograms.
  const renamed = new Map(prometheusViews().map((view) => [view.instrumentName, view.name]));
  const exported = new Set<string>();
  for (const spec of Object.values(INSTRUMENTS)) {
    const name = (renamed.get(spec.name) ?? spec.name).replace(/\./g, '_');
    if (spec.buckets)
      for (const suffix of ['_bucket', '_count', '_sum']) exported.add(name + suffix);
    else exported.add(name).add(`${name}_total`);
  }
  const text = readFileSync(rules, 'utf8');
  const read = new Set(text.match(/\bgrpc_[a-z_]+(?=\{|\[)/g));
  expect(read.size).toBeGreaterThanOrEqual(4);
  expect([...read].filter((name) => !exported.has(name))).toEqual([]);
});

test('the rules file ships in the package', () => {
  const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
  expect(manifest.files).toContain('prometheus/alerts.rules.yml');
  expect(manifest.exports['./alerts.rules.yml']).toBe('./prometheus/alerts.rules.yml');
});
