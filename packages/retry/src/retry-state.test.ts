import { Metadata, status as Status } from '@grpc/grpc-js';
import { DedupScopes, resolveRetryOptions } from './index';
import { decideRetry as decide, isKeyedRetrySafe } from './retry-policy';
import { isRetryable, nextRetryState, type RetryState, type RetryTransition } from './retry-state';

const STATES: RetryState[] = [
  'attempting',
  'replaying',
  'timed-out',
  'hedging',
  'backing-off',
  'committed',
  'finished',
];
const TRANSITIONS: RetryTransition[] = [
  'retry',
  'resume',
  'caught-up',
  'attempt-timeout',
  'hedge',
  'hedge-dropped',
  'commit',
  'finish',
];

describe('the retry phases', () => {
  // Every allowed move; everything else is refused.
  const ALLOWED: Record<string, RetryState> = {
    'attempting retry': 'backing-off',
    'attempting attempt-timeout': 'timed-out',
    'attempting hedge': 'hedging',
    'attempting commit': 'committed',
    'attempting finish': 'finished',
    'replaying caught-up': 'attempting',
    'replaying retry': 'backing-off',
    'replaying attempt-timeout': 'timed-out',
    'replaying commit': 'committed',
    'replaying finish': 'finished',
    'timed-out retry': 'backing-off',
    'timed-out commit': 'committed',
    'timed-out finish': 'finished',
    'hedging hedge-dropped': 'attempting',
    'hedging finish': 'finished',
    'backing-off resume': 'replaying',
    'backing-off commit': 'committed',
    'backing-off finish': 'finished',
    'committed finish': 'finished',
  };

  it.each(STATES.flatMap((state) => TRANSITIONS.map((t) => [state, t] as const)))(
    '%s + %s',
    (state, transition) => {
      const expected = ALLOWED[`${state} ${transition}`];
      if (expected === undefined) expect(() => nextRetryState(state, transition)).toThrow(state);
      else expect(nextRetryState(state, transition)).toBe(expected);
    },
  );

  it('a hedge starts only beside one plain attempt, and a hedged call never commits early', () => {
    const hedgeFrom = STATES.filter((state) => {
      try {
        return nextRetryState(state, 'hedge') === 'hedging';
      } catch {
        return false;
      }
    });
    expect(hedgeFrom).toEqual(['attempting']);
    expect(() => nextRetryState('hedging', 'commit')).toThrow();
    expect(() => nextRetryState('hedging', 'attempt-timeout')).toThrow();
  });

  it('a committed or finished call is never retried; nothing leaves finished', () => {
    expect(STATES.filter(isRetryable)).toEqual(['attempting', 'replaying', 'timed-out']);
    for (const transition of TRANSITIONS)
      expect(() => nextRetryState('finished', transition)).toThrow();
  });
});

describe('keyed retries follow what the servers declared', () => {
  const options = (serverDeduplicates?: boolean | 'declared', scopes = new DedupScopes()) =>
    resolveRetryOptions({ serverDeduplicates, dedupScopes: scopes });

  it("'declared' (the default): only when every server that answered said shared", () => {
    const scopes = new DedupScopes();
    const resolved = options(undefined, scopes);
    expect(resolved.serverDeduplicates).toBe('declared');
    expect(isKeyedRetrySafe(resolved)).toBe(false); // nobody has answered yet
    scopes.observe('10.0.0.1:1', 'shared');
    scopes.observe('10.0.0.2:1', 'shared');
    expect(isKeyedRetrySafe(resolved)).toBe(true);
    scopes.observe('10.0.0.3:1', 'none'); // a replica without dedup
    expect(isKeyedRetrySafe(resolved)).toBe(false);
    scopes.observe('10.0.0.3:1', 'shared'); // redeployed with the shared store
    expect(isKeyedRetrySafe(resolved)).toBe(true);
  });

  it('true trusts the caller, unless per-process stores sit behind more than one server', () => {
    const scopes = new DedupScopes();
    const resolved = options(true, scopes);
    expect(isKeyedRetrySafe(resolved)).toBe(true);
    scopes.observe('10.0.0.1:1', 'process');
    expect(isKeyedRetrySafe(resolved)).toBe(true); // one server: a retry reaches the same store
    scopes.observe('10.0.0.2:1', 'process');
    expect(isKeyedRetrySafe(resolved)).toBe(false);
  });

  it('false never retries a keyed call for its key', () => {
    const scopes = new DedupScopes();
    scopes.observe('10.0.0.1:1', 'shared');
    expect(isKeyedRetrySafe(options(false, scopes))).toBe(false);
  });

  it('remembers a bounded number of peers', () => {
    const scopes = new DedupScopes();
    scopes.observe('old:1', 'none');
    for (let i = 0; i < 300; i++) scopes.observe(`10.0.${i >> 8}.${i & 255}:1`, 'shared');
    expect(scopes.allShared).toBe(true); // the oldest peer was forgotten
  });

  it('rejects a serverDeduplicates of the wrong type, naming the option', () => {
    expect(() => resolveRetryOptions({ serverDeduplicates: 'yes' as never })).toThrow(
      "retry.serverDeduplicates must be true, false or 'declared', received",
    );
    expect(() => resolveRetryOptions({ dedupScopes: {} as never })).toThrow(
      'retry.dedupScopes must be a DedupScopes instance',
    );
  });
});

it('never retries a status from a peer as never-sent (unit)', () => {
  const trailers = new Metadata();
  trailers.set('content-type', 'application/grpc');
  const options = resolveRetryOptions({ budget: false });
  const facts = { attempts: 1, idempotent: false, keyed: false, startedAt: 0, deadline: Infinity };
  const local = {
    code: Status.UNAVAILABLE,
    details: 'Stream refused by server',
    metadata: new Metadata(),
  };
  expect(decide(local, facts, options)).toEqual(expect.objectContaining({ retry: true }));
  const forwarded = { ...local, metadata: trailers };
  expect(decide(forwarded, facts, options)).toEqual({ retry: false, reason: 'not-idempotent' });
  expect(decide(local, { ...facts, headersReceived: true }, options)).toEqual({
    retry: false,
    reason: 'not-idempotent',
  });
});
