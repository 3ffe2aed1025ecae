import { resilientServerOptions } from '@grpc-resilience/channel';
import { startTestBackend } from '@grpc-resilience/testing';

// The benchmarks' server, in its own process so that client CPU is measured alone.
// argv[2]: "kit" for resilientServerOptions(), else a bare grpc-js server.
async function main(): Promise<void> {
  const kit = process.argv[2] === 'kit';
  const backend = await startTestBackend({
    name: kit ? 'kit' : 'bare',
    serverOptions: kit ? resilientServerOptions() : undefined,
  });
  process.send?.({ address: backend.address });
  process.on('disconnect', () => {
    backend.kill();
    process.exit(0);
  });
}
void main();
