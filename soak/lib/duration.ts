// Duration strings for --duration: `1500ms`, `90s`, `10m`, `1h`, or compound `1m30s`. Pure.

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds (whole), or null when the text is not a positive duration. */
export function parseDurationMs(text: string): number | null {
  const t = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(t)) return null;
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  const whole = Math.round(ms);
  return whole > 0 ? whole : null;
}
