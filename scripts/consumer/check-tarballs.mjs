// Checks what `npm pack --json` says each tarball holds: the files a user needs (LICENSE, the
// built entry points, the test proto), no tests, source maps whose sources are shipped too, and
// the publishing fields. Usage: node check-tarballs.mjs <pack.json> <workspace root>
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const [packJson, root] = process.argv.slice(2);
const packed = JSON.parse(readFileSync(packJson, 'utf8'));
const problems = [];

for (const { name, filename, files } of packed) {
  const dir = path.join(root, 'packages', name.replace('@grpc-resilience/', ''));
  const shipped = new Set(files.map((file) => file.path));
  const fail = (what) => problems.push(`${name}: ${what}`);

  const required = ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts'];
  if (name === '@grpc-resilience/testing') required.push('proto/test_service.proto');
  for (const file of required) if (!shipped.has(file)) fail(`${file} is not in the tarball`);
  for (const file of shipped) if (/\.test\./.test(file)) fail(`ships a test file: ${file}`);

  let maps = 0;
  for (const file of shipped) {
    if (!file.endsWith('.map')) continue;
    maps++;
    const map = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    for (const source of map.sources) {
      const target = path.posix.join(path.posix.dirname(file), map.sourceRoot ?? '', source);
      if (!shipped.has(target)) fail(`${file} points at ${target}, which is not shipped`);
    }
  }

  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  if (pkg.license !== 'MIT') fail(`license is ${pkg.license}`);
  for (const field of ['repository', 'homepage', 'bugs']) if (!pkg[field]) fail(`no ${field}`);
  if (pkg.publishConfig?.access !== 'public') fail('publishConfig.access is not public');
  for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) {
    if (/^\d/.test(range)) fail(`dependency ${dep} is pinned to exactly ${range}`);
  }
  console.log(`ok   tarball ${filename}: ${files.length} files, ${maps} source maps resolved`);
}

for (const problem of problems) console.log(`FAIL ${problem}`);
process.exit(problems.length === 0 ? 0 : 1);
