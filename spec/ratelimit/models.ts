// Reference models in exact integer arithmetic, for the property tests. Times are integer ms and
// rates integer requests per second, so token counts are exact multiples of 1/1000 token.

/** Token bucket (capacity `burst`, refill `rate`/s, starts full): admits iff a whole token is there. */
export function tokenBucketModel(rate: number, burst: number, times: readonly number[]): boolean[] {
  let milli = burst * 1000;
  let last = times[0] ?? 0;
  return times.map((t) => {
    if (t > last) {
      milli = Math.min(burst * 1000, milli + (t - last) * rate);
      last = t;
    }
    if (milli >= 1000) {
      milli -= 1000;
      return true;
    }
    return false;
  });
}

/** Sliding-window log: admits at t iff fewer than `limit` admissions lie in (t - windowMs, t]. */
export function slidingLogModel(limit: number, windowMs: number, times: readonly number[]): boolean[] {
  const admitted: number[] = [];
  return times.map((t) => {
    const inWindow = admitted.filter((a) => a > t - windowMs).length;
    if (inWindow < limit) {
      admitted.push(t);
      return true;
    }
    return false;
  });
}

/** Cumulative sums of non-negative gaps, starting at `start`. */
export function arrivalTimes(gaps: readonly number[], start = 0): number[] {
  let t = start;
  return gaps.map((g) => (t += g));
}
