import {
  behaviourMetadata,
  startTestBackend,
  type Behaviour,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';

/** A fresh test backend per test, and the clients a test made, closed after it. */
export interface BackendFixture {
  backend: TestBackend;
  readonly clients: TestServiceClient[];
}

/** Registers the hooks that start a backend before each test and close everything after it. */
export function useBackend(): BackendFixture {
  const fixture = { clients: [] as TestServiceClient[] } as BackendFixture;
  beforeEach(async () => {
    fixture.backend = await startTestBackend();
  });
  afterEach(() => {
    for (const client of fixture.clients.splice(0)) client.close();
    fixture.backend.kill();
  });
  return fixture;
}

/** Call options asking the backend for `behaviour`. */
export const meta = (behaviour: Behaviour) => ({ metadata: behaviourMetadata(behaviour) });
