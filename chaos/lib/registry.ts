// Finding and choosing scenarios. Every .ts file in chaos/scenarios/ (except those starting with "_")
// is a scenario module: adding a drill is adding a file, no list to edit.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AREAS, scenarioProblems } from './scenario.ts';
import type { Scenario, ScenarioContext, ScenarioModule } from './scenario.ts';

export class SelectionError extends Error {
  override readonly name = 'SelectionError';
}

/** Orders scenarios by area (upstream, agent, redis, proxy), then by name. */
export function sortScenarios<S extends Scenario<never>>(list: readonly S[]): S[] {
  return [...list].sort((a, b) => AREAS.indexOf(a.area) - AREAS.indexOf(b.area) || a.name.localeCompare(b.name));
}

/** Collects the scenarios of the given modules; throws on a malformed one or a duplicate name. */
export function collectScenarios<C extends ScenarioContext>(modules: ReadonlyArray<{ file: string; module: ScenarioModule<C> }>): Scenario<C>[] {
  const out: Scenario<C>[] = [];
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const { file, module } of modules) {
    const found = [...(module.scenario !== undefined ? [module.scenario] : []), ...(module.scenarios ?? [])];
    if (found.length === 0) problems.push(`${file}: exports neither \`scenario\` nor \`scenarios\``);
    for (const s of found) {
      problems.push(...scenarioProblems(s as Scenario<never>).map((p) => `${file}: ${p}`));
      const other = seen.get(s.name);
      if (other !== undefined) problems.push(`${file}: scenario "${s.name}" is also defined in ${other}`);
      seen.set(s.name, file);
      out.push(s);
    }
  }
  if (problems.length > 0) throw new Error(`invalid scenarios:\n  ${problems.join('\n  ')}`);
  return sortScenarios(out);
}

/** Imports every scenario module in `dir`. */
export async function loadScenarios<C extends ScenarioContext>(dir: string): Promise<Scenario<C>[]> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_') && !f.endsWith('.d.ts'))
    .sort();
  const modules = await Promise.all(files.map(async (file) => ({ file, module: (await import(pathToFileURL(join(dir, file)).href)) as ScenarioModule<C> })));
  return collectScenarios(modules);
}

export interface Selection {
  /** Names from --scenario; "prefix-*" matches every name with that prefix. Empty: all. */
  readonly names: readonly string[];
  /** --ci: only the CI subset. */
  readonly ci: boolean;
}

/** The scenarios to run, in catalogue order; throws SelectionError for unknown or excluded names. */
export function selectScenarios<S extends Scenario<never>>(all: readonly S[], selection: Selection): S[] {
  const known = all.map((s) => s.name);
  const exact = new Set<string>();
  let chosen: S[];
  if (selection.names.length === 0) {
    chosen = [...all];
  } else {
    const wanted = new Set<string>();
    for (const raw of selection.names) {
      const pattern = raw.trim();
      if (pattern === '') continue;
      const matches = pattern.endsWith('*') ? known.filter((n) => n.startsWith(pattern.slice(0, -1))) : known.filter((n) => n === pattern);
      if (matches.length === 0) {
        throw new SelectionError(`unknown scenario "${pattern}"; known: ${known.join(', ')}`);
      }
      for (const m of matches) wanted.add(m);
      if (!pattern.endsWith('*')) exact.add(pattern);
    }
    chosen = all.filter((s) => wanted.has(s.name));
  }
  if (selection.ci) {
    // a name asked for by its full name must be in the subset; a prefix pattern just narrows it
    const outside = chosen.filter((s) => !s.ci && exact.has(s.name));
    if (outside.length > 0) throw new SelectionError(`not in the CI subset: ${outside.map((s) => s.name).join(', ')} (drop --ci to run them)`);
    chosen = chosen.filter((s) => s.ci);
  }
  if (chosen.length === 0) throw new SelectionError('no scenario selected');
  return chosen;
}
