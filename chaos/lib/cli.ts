// The command line of `npm run chaos`. Pure: parse errors are thrown as UsageError (exit code 2).
import { parseArgs } from 'node:util';

export const USAGE = `usage: npm run chaos -- [--scenario NAME|PREFIX-* ...] [--ci] [--list] [--json FILE] [--scenarios-dir DIR]
  --scenario   run only these scenarios (repeatable, or comma-separated; "upstream-*" selects by prefix)
  --ci         only the short CI subset
  --list       list the scenarios with their expectations and exit
  --json FILE  also write the results as JSON
  TOXIPROXY_URL=http://127.0.0.1:8474  drive that real Toxiproxy instead of the built-in one`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ChaosArgs {
  /** Scenario names or prefix patterns; empty: all. */
  readonly names: readonly string[];
  readonly ci: boolean;
  readonly list: boolean;
  readonly json: string | null;
  /** Where scenario files are (default chaos/scenarios; the runner's tests use fixtures). */
  readonly scenariosDir: string | null;
  readonly help: boolean;
}

export function parseChaosArgs(argv: readonly string[]): ChaosArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        scenario: { type: 'string', multiple: true },
        ci: { type: 'boolean' },
        list: { type: 'boolean' },
        json: { type: 'string' },
        'scenarios-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
  const v = parsed.values;
  return {
    names: (v.scenario ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== ''),
    ci: v.ci === true,
    list: v.list === true,
    json: v.json ?? null,
    scenariosDir: v['scenarios-dir'] ?? null,
    help: v.help === true,
  };
}
