// The embedded default config, used when no config file is given.
import type { Config } from './types.ts';
import { loadConfigText } from './load.ts';

export { DEFAULT_CONFIG_FILE, DEFAULT_CONFIG_KDL } from './default-kdl.ts';
import { DEFAULT_CONFIG_FILE, DEFAULT_CONFIG_KDL } from './default-kdl.ts';

export function defaultConfig(): Config {
  const result = loadConfigText(DEFAULT_CONFIG_KDL, DEFAULT_CONFIG_FILE);
  if (result.config === null) {
    throw new Error(`embedded default config is invalid: ${result.diagnostics.map((d) => d.message).join('; ')}`);
  }
  return result.config;
}
