import type { DedupScope } from '@grpc-resilience/status';

/** What the servers of a target said about their dedup stores, as far as a client has seen. */
export type ObservedDedupScope = DedupScope | 'none';

/** Peers remembered per target; beyond it the oldest is forgotten (a fleet that churns). */
const MAX_PEERS = 256;

/**
 * What the servers behind one target declared about their idempotency-key stores (the
 * `grpc-resilience-dedup-scope` response header), peer by peer. A keyed non-idempotent call may
 * be retried toward the target only when it is safe wherever the retry lands: every server that
 * answered said `shared`. One per target, shared by the clients of that target.
 */
export class DedupScopes {
  private readonly peers = new Map<string, ObservedDedupScope>();
  private declared = false;

  /**
   * Whether any server of the target has declared a scope. Until one has, an answer that
   * declares nothing need not be recorded (nor its peer looked up): with no declaration, keyed
   * retries are unsafe whatever the undeclared peers are.
   */
  get anyDeclared(): boolean {
    return this.declared;
  }

  /** Records what `peer` declared in one response (`none` when it said nothing). */
  observe(peer: string, scope: ObservedDedupScope): void {
    if (scope !== 'none') this.declared = true;
    if (this.peers.get(peer) === scope) return;
    this.peers.delete(peer);
    this.peers.set(peer, scope);
    if (this.peers.size > MAX_PEERS) this.peers.delete(this.peers.keys().next().value!);
  }

  /** Every server that answered declared a shared store (and at least one answered). */
  get allShared(): boolean {
    if (this.peers.size === 0) return false;
    for (const scope of this.peers.values()) if (scope !== 'shared') return false;
    return true;
  }

  /**
   * A server declared a per-process store while more than one server answers for the target:
   * a retry may reach a replica that never saw the key, whatever the client was told.
   */
  get perProcessReplicas(): boolean {
    if (this.peers.size < 2) return false;
    for (const scope of this.peers.values()) if (scope === 'process') return true;
    return false;
  }
}
