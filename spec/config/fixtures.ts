// Shared config texts for the config tests.

/** A valid config using every implemented key (line numbers are asserted in load.test.ts). */
export const FULL_CONFIG_KDL = `schema-version "1"
system {
    worker-threads 1
    max-connections 500
    graceful-shutdown-timeout-secs 2.5
    trace-id-format "tinyflake"
}
listeners {
    listener "http" {
        address "127.0.0.1:8080"
        protocol "http"
        headers-timeout-secs 5
        request-timeout-secs 30
        keepalive-timeout-secs 0.5
        keepalive-max-requests 100
        default-route "fallback"
    }
    listener "v6" { address "[::1]:0"; }
}
routes {
    route "api" {
        priority "HIGH"
        matches {
            path-prefix "/api"
            host "Example.com" "*.example.com"
            method "get" "POST"
            header "X-Tenant" "acme"
            header name="X-Debug"
            query-param "debug" "1"
            query-param "trace"
        }
        upstream "backend"
    }
    route "regex" { priority -5; matches { path-regex "^/v[0-9]+/" }; upstream "backend" }
    route "exact" { matches { path "/exact" }; builtin-handler "not-found" }
    route "fallback" { priority "low"; matches { path-prefix "/" }; builtin-handler "status" }
}
upstreams {
    upstream "backend" {
        target "127.0.0.1:3000" weight=2
        target { address "[::1]:3001"; weight 3; }
        target "backend.internal:3002"
        load-balancing "Weighted_Round_Robin"
        host-header "api.internal"
        timeouts { connect-secs 0.25; headers-secs 10; read-secs 20; request-secs 90 }
        connection-pool { max-connections 64; idle-timeout-secs 15 }
    }
}
observability {
    metrics { enabled #false; address "127.0.0.1:9191"; path "/m" }
    logging {
        level "debug"
        format "json"
        access-log { enabled #true; file "/var/log/sentinel/access.log" }
    }
}
`;
