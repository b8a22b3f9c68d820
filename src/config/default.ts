// The embedded default config, used when no config file is given.
import type { Config } from './types.ts';
import { loadConfigText } from './load.ts';

export const DEFAULT_CONFIG_FILE = '<embedded default>';

export const DEFAULT_CONFIG_KDL = `// Sentinel embedded default configuration.
schema-version "1"

system {
    worker-threads 1
    max-connections 10000
    graceful-shutdown-timeout-secs 30
    trace-id-format "uuid"
}

listeners {
    listener "http" {
        address "127.0.0.1:8080"
        protocol "http"
    }
}

routes {
    route "health" {
        priority "critical"
        matches { path "/health" }
        builtin-handler "health"
    }
    route "status" {
        priority "low"
        matches { path-prefix "/" }
        builtin-handler "status"
    }
}

observability {
    metrics {
        enabled #true
        address "127.0.0.1:9090"
        path "/metrics"
    }
}
`;

/** The embedded default, validated. Throws only if the embedded text itself is broken (a bug, caught by tests). */
export function defaultConfig(): Config {
  const result = loadConfigText(DEFAULT_CONFIG_KDL, DEFAULT_CONFIG_FILE);
  if (result.config === null) {
    throw new Error(`embedded default config is invalid: ${result.diagnostics.map((d) => d.message).join('; ')}`);
  }
  return result.config;
}
