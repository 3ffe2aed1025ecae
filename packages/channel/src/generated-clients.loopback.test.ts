// Clients generated at test time, the way users generate them, keep their proto's idempotency
// through createResilientClient (issue 12). Nothing generated is committed: protoc (Debian's
// protobuf-compiler) and ts-proto write into a temporary folder, TypeScript transpiles it, and the
// test requires the result. A missing tool fails the suite with what to install; it never skips.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as ts from 'typescript';
import { NO_IDEMPOTENCY_MESSAGE, methodsFromService } from '@grpc-resilience/status';
import {
  TEST_PROTO_PATH,
  behaviourMetadata,
  createLogSink,
  loopbackFixture,
} from '@grpc-resilience/testing';
import { createResilientClient, type ClientConstructor } from './index';

const SERVICE = 'grpc_resilience.test.v1.TestService';

/** What the tests use of a ts-proto module; each output carries only some of these. */
interface TsProtoModule {
  TestServiceClient: ClientConstructor<grpc.Client>;
  TestServiceDefinition: Record<string, unknown>;
  ItemRequest: { fromPartial(value: object): object };
  ChargeRequest: { fromPartial(value: object): object };
}

/** The folder of an installed package, or an error saying which devDependency to add. */
function packageDir(name: string, entry = name): string {
  let dir: string;
  try {
    // By an entry point, not `name/package.json`, which an `exports` map may not export.
    dir = path.dirname(require.resolve(entry));
  } catch {
    throw new Error(
      `${name} is not installed: the generated-client tests need the root devDependencies ` +
        'ts-proto and @bufbuild/protobuf (npm install -D ts-proto @bufbuild/protobuf)',
    );
  }
  while (!isPackageRoot(dir, name)) dir = path.dirname(dir);
  return dir;
}

function isPackageRoot(dir: string, name: string): boolean {
  if (dir === path.dirname(dir)) throw new Error(`no package.json of ${name} above its entry`);
  const file = path.join(dir, 'package.json');
  return (
    fs.existsSync(file) &&
    (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string }).name === name
  );
}

let workDir: string;
beforeAll(() => {
  const protoc = spawnSync('protoc', ['--version'], { encoding: 'utf8' });
  if (protoc.error || protoc.status !== 0) {
    throw new Error(
      "protoc not found on PATH: install Debian's protobuf-compiler " +
        '(apt-get install -y protobuf-compiler)',
    );
  }
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'grpc-resilience-generated-'));
  // The generated code requires these by name; link the copies this test uses, so that the
  // client is built on the same grpc-js as the layer's interceptors.
  for (const name of ['@grpc/grpc-js', '@bufbuild/protobuf']) {
    const link = path.join(workDir, 'node_modules', name);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(packageDir(name), link, 'dir');
  }
});
afterAll(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

/** Runs protoc with ts-proto and `options`, transpiles the output to CommonJS and loads it. */
function generateTsProto(name: string, options: string): TsProtoModule {
  const plugin = path.join(packageDir('ts-proto'), 'protoc-gen-ts_proto');
  const outDir = path.join(workDir, name);
  fs.mkdirSync(outDir);
  const run = spawnSync(
    'protoc',
    [
      `--plugin=protoc-gen-ts_proto=${plugin}`,
      `--ts_proto_out=${outDir}`,
      `--ts_proto_opt=${options}`,
      `-I${path.dirname(TEST_PROTO_PATH)}`,
      TEST_PROTO_PATH,
    ],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`protoc with ts-proto (${options}) failed: ${run.stderr}`);
  const source = fs.readFileSync(path.join(outDir, 'test_service.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
  });
  const file = path.join(outDir, 'test_service.js');
  fs.writeFileSync(file, outputText);
  // Jest's require, not Node's: the generated code then shares the test's grpc-js instance.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as TsProtoModule;
}

const loop = loopbackFixture(afterEach);

type Unary = (
  request: object,
  metadata: grpc.Metadata,
  callback: (error: grpc.ServiceError | null) => void,
) => void;

/** Calls `method` on a ts-proto client, failing UNAVAILABLE twice, and counts the attempts. */
async function attemptsOf(
  Client: ClientConstructor<grpc.Client>,
  generated: TsProtoModule,
  method: 'putItem' | 'charge',
  config: Parameters<typeof createResilientClient>[2] = {},
) {
  const backend = await loop.backend({ name: 'generated' });
  const client = loop.keep(
    createResilientClient(Client, backend.address, {
      retry: { initialBackoffMs: 1 },
      ...config,
    }),
  );
  const callId = `${method}-${Math.random()}`;
  const metadata = behaviourMetadata({
    callId,
    failCode: grpc.status.UNAVAILABLE,
    failAttempts: 2,
  });
  const request =
    method === 'charge'
      ? generated.ChargeRequest.fromPartial({ account: 'a', amountCents: 1 })
      : generated.ItemRequest.fromPartial({ id: 'a' });
  const code = await new Promise<grpc.status>((resolve) =>
    ((client as unknown as Record<string, Unary>)[method]!.bind(client) as Unary)(
      request,
      metadata,
      (error) => resolve(error ? error.code : grpc.status.OK),
    ),
  );
  return { code, attempts: backend.counters.attemptsOf(callId) };
}

describe('ts-proto, outputServices=grpc-js plus generic-definitions', () => {
  let generated: TsProtoModule;
  beforeAll(() => {
    generated = generateTsProto(
      'grpc-js-generic',
      'outputServices=grpc-js,outputServices=generic-definitions,esModuleInterop=true',
    );
  });

  it('retries an IDEMPOTENT method read from the generic definition: 3 attempts', async () => {
    const config = { service: generated.TestServiceDefinition };
    const put = await attemptsOf(generated.TestServiceClient, generated, 'putItem', config);
    expect(put).toEqual({ code: grpc.status.OK, attempts: 3 });
    const charge = await attemptsOf(generated.TestServiceClient, generated, 'charge', config);
    expect(charge).toEqual({ code: grpc.status.UNAVAILABLE, attempts: 1 });
  });
});

describe('ts-proto, outputServices=grpc-js alone (no method options in its output)', () => {
  let generated: TsProtoModule;
  beforeAll(() => {
    generated = generateTsProto('grpc-js', 'outputServices=grpc-js,esModuleInterop=true');
  });

  it('warns once per service that every method is non-idempotent, and keeps to it', async () => {
    const sink = createLogSink({ level: 'warn' });
    const put = await attemptsOf(generated.TestServiceClient, generated, 'putItem', {
      logger: sink.logger,
    });
    expect(put).toEqual({ code: grpc.status.UNAVAILABLE, attempts: 1 });
    await attemptsOf(generated.TestServiceClient, generated, 'putItem', { logger: sink.logger });
    const warnings = sink.find(NO_IDEMPOTENCY_MESSAGE);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, service: SERVICE });
  });

  it('retries a method the `methods` option marks, with no warning', async () => {
    const sink = createLogSink({ level: 'warn' });
    const put = await attemptsOf(generated.TestServiceClient, generated, 'putItem', {
      logger: sink.logger,
      methods: { [`/${SERVICE}/PutItem`]: { idempotent: true } },
    });
    expect(put).toEqual({ code: grpc.status.OK, attempts: 3 });
    expect(sink.find(NO_IDEMPOTENCY_MESSAGE)).toHaveLength(0);
  });
});

describe("nice-grpc's ts-proto definition (outputServices=nice-grpc,generic-definitions)", () => {
  it('carries the proto idempotency, and serves as `service` for a grpc-js client', async () => {
    const nice = generateTsProto(
      'nice-grpc',
      'outputServices=nice-grpc,outputServices=generic-definitions,esModuleInterop=true',
    );
    expect(methodsFromService(nice.TestServiceDefinition)).toEqual({
      [`/${SERVICE}/GetItem`]: { idempotent: true },
      [`/${SERVICE}/PutItem`]: { idempotent: true },
      [`/${SERVICE}/ListItems`]: { idempotent: true },
      [`/${SERVICE}/UploadItems`]: { idempotent: true },
      [`/${SERVICE}/SyncItems`]: { idempotent: true },
    });
    const plain = generateTsProto('grpc-js-for-nice', 'outputServices=grpc-js');
    const put = await attemptsOf(plain.TestServiceClient, plain, 'putItem', {
      service: nice.TestServiceDefinition,
    });
    expect(put).toEqual({ code: grpc.status.OK, attempts: 3 });
  });
});
