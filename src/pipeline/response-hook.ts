// The response hook: lets a filter see and decide on an upstream response before the client does
// (agents on response_headers / response_body). An exchange with no interceptor costs the forward
// phase one null check per callback.
//
// The forward phase hands the interceptor the response head (hop-by-hop fields already dropped,
// the proxy's own fields not yet added) and then each body chunk and the end. The interceptor
// pauses and resumes the upstream through the relay while it decides, and commits what the client
// gets: the head, the (possibly replaced) chunks, the end; or it discards the upstream response
// and ends the exchange itself (a block).

/** What the forward phase offers an interceptor for one upstream response. */
export interface ResponseRelay {
  /** Stops undici from delivering more data until `resume` (chunks already parsed may still come). */
  pause(): void;
  resume(): void;
  /** Writes the response head: the proxy's fields and header operations are added here. False: refused. */
  commitHead(status: number, headers: string[], statusMessage: string | undefined): boolean;
  /** Writes a body chunk to the client with backpressure (the upstream pauses while the client is slow). */
  write(chunk: Buffer): void;
  /** Ends the response and the exchange (accounting, finalize). */
  finish(): void;
  /** Drops the upstream response (its callbacks are ignored from now on); the caller ends the exchange. */
  discard(): void;
}

export interface ResponseInterceptor {
  /** The upstream's response head. `headers` is a flat `[name, value, …]` list the interceptor may change. */
  onHead(relay: ResponseRelay, status: number, headers: string[], statusMessage: string | undefined): void;
  onData(relay: ResponseRelay, chunk: Buffer): void;
  onEnd(relay: ResponseRelay): void;
}
