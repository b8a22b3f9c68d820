// The embedded default config text, kept apart from the loader so the CLI can read it without
// loading the KDL parser into the dataplane (the parse runs in a worker: see isolated.ts).

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
