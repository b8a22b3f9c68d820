// @ts-check
// Never run by k6: compiled by `tsc -p soak/k6/tsconfig.json` (spec/soak/k6.test.ts) to prove that the
// profile → k6 options mapping produces objects of @types/k6's `Options` type, scenario by scenario.
import { toK6Options } from '../lib/k6-options.ts';
import { PROFILE_NAMES, PROFILES } from '../profiles.ts';

/** @type {import('k6/options').Options[]} */
export const allOptions = PROFILE_NAMES.map((name) => toK6Options(PROFILES[name]));

/** @type {import('k6/options').Scenario[]} */
export const allScenarios = allOptions.flatMap((o) => Object.values(o.scenarios ?? {}));
