import * as grpc from '@grpc/grpc-js';
import type { Cluster } from './cluster';

/** One phase: what goes wrong at its start, and what is mended at its end. */
export interface Phase {
  name: string;
  /** What happens to each cluster, in words. */
  fault: string;
  /** Length, ms. */
  durationMs: number;
  begin?: (cluster: Cluster) => void | Promise<void>;
  end?: (cluster: Cluster) => void | Promise<void>;
}

/**
 * The phases. Each fault hits its own backend and is followed by a phase with every backend
 * healthy, so that what a client still carries from one fault (a host it keeps ejected, a
 * connection it has not re-established yet) shows in its own row instead of in the next fault's:
 * both balancers eject at most one host of three, so a host kept out after it healed would stop
 * either client ejecting the next sick one. The error storm comes last because it opens the layer's
 * breaker: the recovery phase (`recoveryMs`) shows how soon its probes close it again (about a
 * second or two since it probes from 1 s; it was 30 s when the first probe waited that long).
 */
export function demoPhases(phaseMs: number, recoveryMs: number): Phase[] {
  return [
    { name: 'healthy', fault: 'none', durationMs: phaseMs },
    {
      name: 'backend killed',
      fault: 'b2 killed (connections refused), restarted at the end',
      durationMs: phaseMs,
      begin: (c) => c.kill(2),
      end: (c) => c.restart(2),
    },
    { name: 'b2 restarted', fault: 'none (b2 back on its port)', durationMs: phaseMs },
    {
      name: 'blackholed',
      fault: "b1's proxy holds every byte (an open, silent TCP connection)",
      durationMs: phaseMs,
      begin: (c) => c.proxies[1].freeze(),
      // A long blackhole kills the TCP connections in real networks too: their held bytes are lost.
      end: async (c) => {
        await c.proxies[1].reset();
        await c.proxies[1].pass();
      },
    },
    {
      name: 'b1 reachable',
      fault: "none (b1's proxy passes bytes again; its held connections were reset)",
      durationMs: phaseMs,
    },
    {
      name: 'slow backend',
      fault: 'b0 answers after 1.5 s, past every deadline',
      durationMs: phaseMs,
      begin: (c) => void (c.backends[0].behaviour = { delayMs: 1500 }),
      end: (c) => void (c.backends[0].behaviour = {}),
    },
    {
      name: 'error storm',
      fault: 'every backend answers UNAVAILABLE',
      durationMs: phaseMs,
      begin: (c) =>
        c.backends.forEach((b) => (b.behaviour = { failCode: grpc.status.UNAVAILABLE })),
      end: (c) => c.backends.forEach((b) => (b.behaviour = {})),
    },
    { name: 'recovery', fault: 'none', durationMs: recoveryMs },
  ];
}
