#!/usr/bin/env bash
# Proves the packages install and work outside the workspace, as a new user gets them: packs every
# public package, installs the tarballs into a fresh project in a temp dir (with the grpc-js,
# proto-loader, TypeScript and @types/node versions this repo uses, from the npm registry),
# checks what each tarball holds, compiles a strict TypeScript app (module node16,
# skipLibCheck false) and runs it, runs an ESM app, and checks that the types compile for a
# consumer without pino. The dedup-redis check needs `redis-server` on PATH (.ci/run installs it).
# Prints each check; exits non-zero on any failure. KEEP_CONSUMER=1 keeps the temp project.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here="$root/scripts/consumer"
work=$(mktemp -d "${TMPDIR:-/tmp}/grpc-resilience-consumer.XXXXXX")
redis_pid=''

cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; fi
  if [ "${KEEP_CONSUMER:-}" = 1 ]; then echo "consumer-check: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'echo "consumer-check: FAILED (line $LINENO: $BASH_COMMAND)"' ERR

step() { echo "consumer-check: $*"; }
version_of() { node -p "require('./node_modules/$1/package.json').version"; } # read as files: some packages export no ./package.json

cd "$root"
step "building (tsc -b)"
npx tsc -b

mapfile -t public < <(node -e '
  const fs = require("fs");
  for (const dir of fs.readdirSync("packages").sort()) {
    const pkg = JSON.parse(fs.readFileSync(`packages/${dir}/package.json`, "utf8"));
    if (!pkg.private) console.log(`packages/${dir}`);
  }')
step "packing ${#public[@]} public packages"
mkdir -p "$work/tarballs" "$work/app"
npm pack --silent --json --pack-destination "$work/tarballs" \
  "${public[@]/#/--workspace=}" >"$work/pack.json"
node "$here/check-tarballs.mjs" "$work/pack.json" "$root"

grpc_js=${GRPC_JS_VERSION:-$(version_of @grpc/grpc-js)}
deps=(
  "@grpc/grpc-js@$grpc_js"
  "@grpc/proto-loader@$(version_of @grpc/proto-loader)"
  "typescript@$(version_of typescript)"
  "@types/node@$(version_of @types/node)"
  "pino@$(version_of pino)"
  "@opentelemetry/api@$(version_of @opentelemetry/api)"
  "@opentelemetry/sdk-metrics@$(version_of @opentelemetry/sdk-metrics)"
)
for dep in "${deps[@]}"; do # a version that could not be read would install the newest
  if [[ $dep == *@ ]]; then
    echo "consumer-check: FAILED (no version for $dep)"
    exit 1
  fi
done
step "installing the tarballs and ${deps[*]} into $work/app"
cd "$work/app"
cp "$here/app.ts" "$here/app.mjs" "$here/greeter.proto" "$here/tsconfig.json" .
echo '{ "name": "consumer", "version": "1.0.0", "private": true }' >package.json
npm install --no-audit --no-fund --loglevel=error "$work"/tarballs/*.tgz "${deps[@]}"
# Every @grpc-resilience package must come from a tarball above, never from a registry.
node -e '
  const lock = require("./package-lock.json");
  const strays = Object.entries(lock.packages)
    .filter(([at, entry]) => at.includes("@grpc-resilience/") && !String(entry.resolved).startsWith("file:"));
  if (strays.length) throw new Error(`not from the tarballs: ${strays.map(([at]) => at).join(", ")}`);
  const grpc = require.resolve("@grpc/grpc-js");
  if (!grpc.startsWith(process.cwd())) throw new Error(`@grpc/grpc-js resolved outside: ${grpc}`);'

step "compiling the strict TypeScript app (module node16, skipLibCheck false)"
npx tsc -p .

port=$(node -e '
  const s = require("net").createServer().listen(0, "127.0.0.1", () => {
    console.log(s.address().port);
    s.close();
  });')
step "starting redis-server on 127.0.0.1:$port"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!
node -e '
  const net = require("net");
  const until = Date.now() + 5000;
  (function attempt() {
    const socket = net.connect(Number(process.argv[1]), "127.0.0.1", () => socket.end());
    socket.on("error", () => {
      if (Date.now() > until) throw new Error("redis-server did not start");
      setTimeout(attempt, 50);
    });
  })();' "$port"

step "running the TypeScript app"
REDIS_URL="redis://127.0.0.1:$port" node dist/app.js
step "running the ESM app"
node app.mjs

# pino is an optional peer of channel and logging: a project without it (and without testing,
# whose log sink is pino) must install, type-check with skipLibCheck false, and load them.
step "a second project without pino: install, type-check (skipLibCheck false), load"
mkdir -p "$work/no-pino"
cd "$work/no-pino"
cp "$here/no-pino.ts" .
echo '{ "name": "consumer-no-pino", "version": "1.0.0", "private": true }' >package.json
mapfile -t without_testing < <(ls "$work"/tarballs/*.tgz | grep -v 'grpc-resilience-testing-')
npm install --no-audit --no-fund --loglevel=error "${without_testing[@]}" "${deps[@]:0:4}"
if [ -e node_modules/pino ]; then
  echo "FAIL pino was installed though no package should require it"
  exit 1
fi
npx tsc --noEmit --strict --module node16 --moduleResolution node16 --target es2022 \
  --types node --skipLibCheck false no-pino.ts
node -e 'require("@grpc-resilience/channel").resilientOptions({ logger: console });'
step "ok   no pino: channel and logging install, type-check and load"

step "passed"
