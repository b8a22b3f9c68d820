// One error type, one table. Every error the proxy answers with has a stable code here; the
// table gives its status, its source (who is at fault) and a client-safe message. Foreign errors
// (undici, Node) are mapped to a code at the boundary, never surfaced raw.

export type ErrorSource = 'client' | 'proxy' | 'upstream' | 'agent' | 'config';

export interface ErrorSpec {
  readonly status: number;
  readonly source: ErrorSource;
  /** May a retry (on another target) help? Only consulted by the forward phase. */
  readonly retryable: boolean;
  readonly message: string;
}

export const ERROR_TABLE = {
  BAD_REQUEST: { status: 400, source: 'client', retryable: false, message: 'The request is malformed.' },
  FILE_FORBIDDEN: { status: 403, source: 'client', retryable: false, message: 'The file cannot be read.' },
  ROUTE_NOT_FOUND: { status: 404, source: 'client', retryable: false, message: 'No route matches this request.' },
  FILE_NOT_FOUND: { status: 404, source: 'client', retryable: false, message: 'The requested file does not exist.' },
  METHOD_NOT_ALLOWED: { status: 405, source: 'client', retryable: false, message: 'The method is not allowed for this resource.' },
  PRECONDITION_FAILED: { status: 412, source: 'client', retryable: false, message: 'A precondition of the request does not hold.' },
  PAYLOAD_TOO_LARGE: { status: 413, source: 'client', retryable: false, message: 'The request body is larger than this route accepts.' },
  URI_TOO_LONG: { status: 414, source: 'client', retryable: false, message: 'The request target is too long.' },
  RANGE_NOT_SATISFIABLE: { status: 416, source: 'client', retryable: false, message: 'The requested range is not satisfiable.' },
  EXPECTATION_FAILED: { status: 417, source: 'client', retryable: false, message: 'The expectation in the Expect header cannot be met.' },
  RATE_LIMITED: { status: 429, source: 'client', retryable: false, message: 'Too many requests: retry after the time given in Retry-After.' },
  REQUEST_HEADERS_TOO_LARGE: { status: 431, source: 'client', retryable: false, message: 'The request has too many header fields or they are too large.' },
  CLIENT_CLOSED_REQUEST: { status: 499, source: 'client', retryable: false, message: 'The client closed the request.' },
  INTERNAL_ERROR: { status: 500, source: 'proxy', retryable: false, message: 'The proxy failed to handle the request.' },
  METHOD_NOT_IMPLEMENTED: { status: 501, source: 'proxy', retryable: false, message: 'The proxy does not support this method.' },
  UPSTREAM_CONNECT_FAILED: { status: 502, source: 'upstream', retryable: true, message: 'The upstream refused or dropped the connection.' },
  UPSTREAM_RESET: { status: 502, source: 'upstream', retryable: true, message: 'The upstream closed the connection before responding.' },
  UPSTREAM_TLS_ERROR: { status: 502, source: 'upstream', retryable: false, message: 'The TLS connection to the upstream failed.' },
  UPSTREAM_PROTOCOL_ERROR: { status: 502, source: 'upstream', retryable: false, message: 'The upstream sent an invalid response.' },
  UPSTREAM_HEADERS_TOO_LARGE: { status: 502, source: 'upstream', retryable: false, message: 'The upstream sent a response head that is too large.' },
  UPSTREAM_NO_HEALTHY: { status: 503, source: 'upstream', retryable: false, message: 'No upstream target is available.' },
  UPSTREAM_QUEUE_FULL: { status: 503, source: 'upstream', retryable: false, message: 'The upstream is at capacity.' },
  RATE_LIMITER_UNAVAILABLE: { status: 503, source: 'proxy', retryable: false, message: 'The rate limiter is unavailable: retry later.' },
  SHUTTING_DOWN: { status: 503, source: 'proxy', retryable: false, message: 'The proxy is shutting down.' },
  ROUTE_CONCURRENCY_LIMITED: { status: 503, source: 'proxy', retryable: false, message: 'This route is handling as many requests as it allows; try again later.' },
  UPSTREAM_CONNECT_TIMEOUT: { status: 504, source: 'upstream', retryable: true, message: 'Connecting to the upstream timed out.' },
  UPSTREAM_HEADERS_TIMEOUT: { status: 504, source: 'upstream', retryable: false, message: 'The upstream did not respond in time.' },
  UPSTREAM_ATTEMPT_TIMEOUT: { status: 504, source: 'upstream', retryable: true, message: 'The upstream did not respond in time.' },
  UPSTREAM_BODY_TIMEOUT: { status: 504, source: 'upstream', retryable: false, message: 'The upstream stopped sending the response body.' },
  REQUEST_TIMEOUT: { status: 504, source: 'proxy', retryable: false, message: 'The request exceeded its total time budget.' },
  // Deployment routing (`deployments` routes, docs/deployments.md). Those routes render these, and
  // the upstream codes above, in Unkey Sentinel's error contract instead of the default body.
  DEPLOYMENT_ID_MISSING: { status: 400, source: 'client', retryable: false, message: 'The deployment id header is missing or empty.' },
  DEPLOYMENT_NOT_FOUND: { status: 404, source: 'client', retryable: false, message: 'The requested deployment was not found.' },
  DEPLOYMENT_NO_RUNNING_INSTANCES: { status: 503, source: 'upstream', retryable: false, message: 'No running instance of this deployment is available.' },
  DEPLOYMENT_LOOKUP_FAILED: { status: 500, source: 'proxy', retryable: false, message: 'The deployment could not be looked up.' },
  DEPLOYMENT_INVALID_ADDRESS: { status: 500, source: 'config', retryable: false, message: 'The deployment is misconfigured.' },
  HTTP_VERSION_NOT_SUPPORTED: { status: 505, source: 'proxy', retryable: false, message: 'Only HTTP/1.0 and HTTP/1.1 are accepted on this listener.' },
  AGENT_BLOCKED: { status: 403, source: 'client', retryable: false, message: 'The request was blocked by a security policy.' },
  AGENT_CHALLENGE: { status: 403, source: 'client', retryable: false, message: 'The request must pass a challenge first.' },
  AGENT_BODY_TOO_LARGE: { status: 413, source: 'client', retryable: false, message: 'The request body is too large to be inspected.' },
  AGENT_RESPONSE_TOO_LARGE: { status: 502, source: 'agent', retryable: false, message: 'The response is too large to be inspected.' },
  AGENT_UNAVAILABLE: { status: 503, source: 'agent', retryable: false, message: 'A security check is unavailable.' },
  AGENT_CIRCUIT_OPEN: { status: 503, source: 'agent', retryable: false, message: 'A security check is unavailable.' },
  AGENT_TIMEOUT: { status: 504, source: 'agent', retryable: false, message: 'A security check did not answer in time.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export const ERROR_CODES = Object.keys(ERROR_TABLE) as ErrorCode[];

export class ProxyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly source: ErrorSource;
  readonly retryable: boolean;
  /** Operator-facing detail for logs; never sent to the client. */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const spec: ErrorSpec = ERROR_TABLE[code];
    super(spec.message, options);
    this.name = 'ProxyError';
    this.code = code;
    this.status = spec.status;
    this.source = spec.source;
    this.retryable = spec.retryable;
    this.detail = detail;
  }
}

/** The JSON body every locally generated error response carries. */
export function errorBody(code: ErrorCode, requestId: string): string {
  const spec: ErrorSpec = ERROR_TABLE[code];
  return JSON.stringify({ error: { code, message: spec.message, request_id: requestId } });
}
