import * as fs from 'node:fs';
import { experimental, type ChannelCredentials, type ServerCredentials } from '@grpc/grpc-js';
import { booleanOption, ConfigError, integerOption, objectOption } from '@grpc-resilience/status';

/** Default interval at which the certificate files are read again, ms. */
export const DEFAULT_CERTIFICATE_REFRESH_MS = 60_000;

/** The files of one side of an mTLS connection. */
export interface MtlsFiles {
  /** This side's certificate chain, PEM. */
  certificateFile: string;
  /** This side's private key, PEM. */
  privateKeyFile: string;
  /** The CA bundle the peer's certificate must chain to, PEM. */
  caCertificateFile: string;
  /**
   * How often the files are read again, ms, from 100 to 86400000. Default 60000. A rotated
   * certificate is in use for new connections within this interval; grpc-js's
   * `FileWatcherCertificateProvider` does the reading (grpc-go's equivalent:
   * `pemfile.Options.RefreshDuration`, 1 h by default; Envoy: SDS file watch). Rotate the
   * three files at once (Kubernetes swaps a `..data` symlink): a certificate read with another
   * certificate's key fails the connections made before the next read.
   */
  refreshIntervalMs?: number;
}

function resolveFiles(files: MtlsFiles, path: string) {
  const input = objectOption(path, files, [
    'certificateFile',
    'privateKeyFile',
    'caCertificateFile',
    'refreshIntervalMs',
    'requireClientCertificate',
  ]);
  for (const key of ['certificateFile', 'privateKeyFile', 'caCertificateFile']) {
    const at = path === '' ? key : `${path}.${key}`;
    const file = input[key];
    if (typeof file !== 'string' || file === '')
      throw new ConfigError(at, 'must be the path of a PEM file', file);
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (error) {
      throw new ConfigError(
        at,
        `must be a readable file (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
        file,
      );
    }
  }
  const refreshIntervalMs = integerOption(
    path === '' ? 'refreshIntervalMs' : `${path}.refreshIntervalMs`,
    input.refreshIntervalMs,
    DEFAULT_CERTIFICATE_REFRESH_MS,
    { min: 100, max: 86_400_000 },
  );
  return { ...(input as unknown as MtlsFiles), refreshIntervalMs, input };
}

type Provider = InstanceType<typeof experimental.FileWatcherCertificateProvider>;

/**
 * Resolves once both providers have read their files (rejects when a file could not be read):
 * grpc-js reads them only when a connection first needs them, and a server refuses the
 * handshakes that come before.
 */
function whenLoaded(ca: Provider, identity: Provider): () => Promise<void> {
  const first = (
    add: (listener: (update: unknown) => void) => void,
    remove: (listener: (update: unknown) => void) => void,
    what: string,
  ) =>
    new Promise<void>((resolve, reject) => {
      const listener = (update: unknown) => {
        remove(listener);
        if (update === null) reject(new Error(`grpc-resilience: the ${what} could not be read`));
        else resolve();
      };
      add(listener);
    });
  return () =>
    Promise.all([
      first(
        (l) => ca.addCaCertificateListener(l as never),
        (l) => ca.removeCaCertificateListener(l as never),
        'CA certificate file',
      ),
      first(
        (l) => identity.addIdentityCertificateListener(l as never),
        (l) => identity.removeIdentityCertificateListener(l as never),
        'certificate or private key file',
      ),
    ]).then(() => undefined);
}

/** Credentials whose `ready()` resolves once the files have been read (see `whenLoaded`). */
export type MtlsCredentials<T> = T & { ready(): Promise<void> };

/**
 * One provider for all three files, handed to grpc-js as both the CA and the identity provider:
 * it reads them together (a rotation is seen whole, never a new certificate with an old key),
 * and it sidesteps grpc-js 1.14's `createCertificateProviderServerCredentials`, which passes
 * its two providers to the credentials' constructor in swapped order (server-credentials.ts), so
 * that separate providers leave a server that never completes a handshake.
 */
function providers(files: MtlsFiles & { refreshIntervalMs: number }) {
  const { certificateFile, privateKeyFile, caCertificateFile, refreshIntervalMs } = files;
  const both = new experimental.FileWatcherCertificateProvider({
    certificateFile,
    privateKeyFile,
    caCertificateFile,
    refreshIntervalMs,
  });
  return { ca: both, identity: both };
}

/**
 * Server credentials for mTLS from files that may be rotated on disk: grpc-js's certificate
 * providers read them again every `refreshIntervalMs`, and new connections use what they read,
 * without a restart. A client without a certificate from the CA is refused
 * (`requireClientCertificate`, default true). Missing or unreadable files are a `ConfigError`.
 * grpc-js reads the files only when a connection first needs them and refuses the handshakes
 * before: `await credentials.ready()` before serving (or before a readiness probe says so).
 */
export function mtlsServerCredentials(
  files: MtlsFiles & { requireClientCertificate?: boolean },
): MtlsCredentials<ServerCredentials> {
  const resolved = resolveFiles(files, '');
  const require = booleanOption(
    'requireClientCertificate',
    resolved.input.requireClientCertificate,
    true,
  );
  const { ca, identity } = providers(resolved);
  return Object.assign(
    experimental.createCertificateProviderServerCredentials(ca, identity, require),
    { ready: whenLoaded(ca, identity) },
  );
}

/**
 * Channel credentials for mTLS from files that may be rotated on disk, as
 * {@link mtlsServerCredentials}: the client presents its certificate and checks the server's
 * against the CA (and its name against the target, as grpc-js always does).
 */
export function mtlsChannelCredentials(files: MtlsFiles): MtlsCredentials<ChannelCredentials> {
  const { ca, identity } = providers(resolveFiles(files, ''));
  return Object.assign(experimental.createCertificateProviderChannelCredentials(ca, identity), {
    ready: whenLoaded(ca, identity),
  });
}

/**
 * The authenticated identity of an mTLS peer, from grpc-js's `call.getAuthContext()` (also
 * handed to the dedup `scopeOf` hook as `authContext`): its first URI SAN (a SPIFFE ID), else
 * its first DNS SAN, else its subject CN; undefined without a verified client certificate.
 */
export function peerIdentity(
  authContext:
    | { sslPeerCertificate?: { subject?: { CN?: string | string[] }; subjectaltname?: string } }
    | undefined,
): string | undefined {
  const certificate = authContext?.sslPeerCertificate;
  if (certificate === undefined || certificate === null) return undefined;
  const names = (certificate.subjectaltname ?? '').split(/,\s*/);
  const uri = names.find((name) => name.startsWith('URI:'));
  if (uri !== undefined) return uri.slice(4);
  const dns = names.find((name) => name.startsWith('DNS:'));
  if (dns !== undefined) return dns.slice(4);
  const cn = certificate.subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn || undefined;
}
