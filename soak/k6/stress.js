// @ts-check
// k6 run -e TARGET=http://127.0.0.1:8080 soak/k6/stress.js
// Profile "stress" from soak/profiles.ts (via profiles.generated.json). Node runner: npm run soak -- --profile stress
/* global open */
import { makeIteration, pickProfile } from './lib.js';

const profile = pickProfile(open('./profiles.generated.json'), 'stress');

/** @type {import('k6/options').Options} */
export const options = profile.options;

export default makeIteration(profile.path);
