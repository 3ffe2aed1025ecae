import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import {
  callUnary,
  loopbackFixture,
  testServiceClient,
  testServiceDefinition,
  waitUntil,
  type CallOutcome,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import {
  ResilientServer,
  mtlsChannelCredentials,
  mtlsServerCredentials,
  peerIdentity,
} from './index';

const REFRESH_MS = 200;
let dir: string;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A key and a certificate signed by the test CA, in `version/`. */
function issue(version: string, name: string, cn: string, san: string): void {
  const base = path.join(version, name);
  fs.writeFileSync(path.join(dir, `${base}.ext`), `subjectAltName=${san}\n`);
  openssl(
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${base}.key`,
    '-out',
    `${base}.csr`,
    '-subj',
    `/CN=${cn}`,
  );
  openssl(
    'x509',
    '-req',
    '-in',
    `${base}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-out',
    `${base}.pem`,
    '-extfile',
    `${base}.ext`,
  );
  fs.copyFileSync(path.join(dir, 'ca.pem'), path.join(dir, version, 'ca.pem'));
}

function makeVersion(version: string): void {
  fs.mkdirSync(path.join(dir, version));
  issue(version, 'server', `server-${version}`, 'DNS:localhost,IP:127.0.0.1');
  issue(version, 'client', `client-${version}`, `URI:spiffe://test/client-${version}`);
}

/** Points `current` at `version` in one rename, as Kubernetes swaps its `..data` link. */
function activate(version: string): void {
  const link = path.join(dir, `current-${version}.tmp`);
  fs.symlinkSync(version, link);
  fs.renameSync(link, path.join(dir, 'current'));
}

const files = (side: 'server' | 'client') => ({
  certificateFile: path.join(dir, 'current', `${side}.pem`),
  privateKeyFile: path.join(dir, 'current', `${side}.key`),
  caCertificateFile: path.join(dir, 'current', 'ca.pem'),
  refreshIntervalMs: REFRESH_MS,
});

/** The CN of the certificate the server presents to a new connection now. */
function serverCertificateCn(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ALPNProtocols: ['h2'],
      ca: fs.readFileSync(path.join(dir, 'current', 'ca.pem')),
      cert: fs.readFileSync(path.join(dir, 'current', 'client.pem')),
      key: fs.readFileSync(path.join(dir, 'current', 'client.key')),
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      resolve(String(socket.getPeerCertificate().subject.CN));
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

const loop = loopbackFixture(afterEach);
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grpc-resilience-mtls-'));
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
  );
  makeVersion('v1');
  makeVersion('v2');
  activate('v1');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function start(): Promise<number> {
  const server = new ResilientServer({ health: false, admission: false });
  loop.onClose(() => server.forceShutdown());
  server.addService(testServiceDefinition(), {
    GetItem(call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) {
      done(null, { value: peerIdentity(call.getAuthContext()) ?? 'anonymous' });
    },
  });
  const credentials = mtlsServerCredentials(files('server'));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  await credentials.ready();
  return port;
}

function client(port: number, credentials: grpc.ChannelCredentials): TestServiceClient {
  const Client = testServiceClient();
  // Its own subchannel pool: a second client must open its own connection, with what the
  // credentials hold now, rather than share the first one's.
  return loop.keep(
    new Client(`127.0.0.1:${port}`, credentials, { 'grpc.use_local_subchannel_pool': 1 }),
  );
}

it('rotating both sides on disk under load: 0 failed calls, new certificates within the refresh interval', async () => {
  const port = await start();
  const credentials = mtlsChannelCredentials(files('client'));
  const first = client(port, credentials);
  const firstCall = await callUnary(first, 'GetItem', {}, { timeoutMs: 5000 });
  expect(firstCall.status.details).toBe('OK');
  expect(firstCall.response?.value).toBe('spiffe://test/client-v1');
  expect(await serverCertificateCn(port)).toBe('server-v1');

  let running = true;
  const outcomes: CallOutcome[] = [];
  const load = Promise.all(
    Array.from({ length: 4 }, async () => {
      while (running) outcomes.push(await callUnary(first, 'GetItem', {}, { timeoutMs: 5000 }));
    }),
  );
  await waitUntil(() => outcomes.length > 20);
  activate('v2');
  const rotatedAt = Date.now();
  // The server presents v2 to new connections once its provider read the files again.
  let cn = 'server-v1';
  while (cn !== 'server-v2' && Date.now() - rotatedAt < 10 * REFRESH_MS) {
    cn = await serverCertificateCn(port);
    if (cn !== 'server-v2') await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(cn).toBe('server-v2');
  // Generous against a loaded machine: two intervals of reading plus the probe's own time.
  expect(Date.now() - rotatedAt).toBeLessThan(2 * REFRESH_MS + 1000);
  // The client's credentials present v2 on a new connection.
  await new Promise((resolve) => setTimeout(resolve, 2 * REFRESH_MS));
  const second = client(port, credentials);
  expect((await callUnary(second, 'GetItem', {}, { timeoutMs: 5000 })).response?.value).toBe(
    'spiffe://test/client-v2',
  );
  await waitUntil(() => outcomes.length > 200, { timeoutMs: 10_000 });
  running = false;
  await load;
  expect(
    outcomes.filter((o) => o.status.code !== grpc.status.OK).map((o) => o.status.details),
  ).toEqual([]);
});

it('a client without a certificate is refused', async () => {
  const port = await start();
  const anonymous = client(
    port,
    grpc.credentials.createSsl(fs.readFileSync(path.join(dir, 'current', 'ca.pem'))),
  );
  const outcome = await callUnary(anonymous, 'GetItem', {}, { timeoutMs: 2000 });
  expect(outcome.status.code).toBe(grpc.status.UNAVAILABLE);
});

it('missing or unreadable files are ConfigErrors naming the option', () => {
  expect(() =>
    mtlsServerCredentials({ ...files('server'), privateKeyFile: '/no/such.key' }),
  ).toThrow(/privateKeyFile must be a readable file \(ENOENT\), received "\/no\/such.key"/);
  expect(() => mtlsChannelCredentials({ ...files('client'), refreshIntervalMs: 5 })).toThrow(
    /refreshIntervalMs must be an integer from 100 to 86400000/,
  );
});
