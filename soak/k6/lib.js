// @ts-check
// Shared k6 code for the profile scripts. The profile definitions come from profiles.generated.json,
// generated from soak/profiles.ts (the one source of truth): never edit the JSON by hand.
/* global __ENV */
import http from 'k6/http';
import { check } from 'k6';

/**
 * @typedef {{ description: string, path: string, options: import('k6/options').Options }} GeneratedProfile
 */

/**
 * Picks one profile out of the generated file's text (read with `open()` by the entry script, so the
 * path resolves next to it).
 * @param {string} generatedText
 * @param {string} name
 * @returns {GeneratedProfile}
 */
export function pickProfile(generatedText, name) {
  /** @type {{ profiles: Record<string, GeneratedProfile> }} */
  const doc = JSON.parse(generatedText);
  const profile = doc.profiles[name];
  if (profile === undefined) throw new Error(`unknown profile ${name}`);
  return profile;
}

/**
 * The iteration: one GET of the profile's path on TARGET (default http://127.0.0.1:8080).
 * @param {string} path
 * @returns {() => void}
 */
export function makeIteration(path) {
  const target = (__ENV.TARGET || 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const url = target + path;
  return function iteration() {
    const res = http.get(url, { tags: { name: path } });
    check(res, { 'status is 2xx/3xx': (r) => r.status >= 200 && r.status < 400 });
  };
}
