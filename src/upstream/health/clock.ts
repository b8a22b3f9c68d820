// The time source of the upstream decision logic (selectors, breaker, outlier detector, retry
// budget). Injected so that every state machine can be driven by a fake clock in tests.

export interface Clock {
  /** Milliseconds, monotonic non-decreasing for a given clock. */
  now(): number;
}

/** Monotonic wall-independent clock for production use. */
export const monotonicClock: Clock = { now: () => performance.now() };

/** A manually advanced clock for tests and simulations. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
  set(ms: number): void;
}

export function createManualClock(startMs = 0): ManualClock {
  let t = startMs;
  return {
    now: () => t,
    advance(ms: number): void {
      if (!(ms >= 0)) throw new RangeError(`clock cannot go backwards (advance ${ms})`);
      t += ms;
    },
    set(ms: number): void {
      if (!(ms >= t)) throw new RangeError(`clock cannot go backwards (${t} -> ${ms})`);
      t = ms;
    },
  };
}
