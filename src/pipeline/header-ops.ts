// Header operations: what route header rules, agents and filters ask to change on the upstream
// request or on the response. Applied to a flat `[name, value, …]` list (the form undici and
// `res.writeHead` take), in order.

export type HeaderOp =
  /** Replace every field of that name with one field (added when absent). */
  | { readonly op: 'set'; readonly name: string; readonly value: string }
  /** Append one more field. */
  | { readonly op: 'add'; readonly name: string; readonly value: string }
  /** Drop every field of that name. */
  | { readonly op: 'remove'; readonly name: string }
  /** Give every field of that name a new name (values kept). */
  | { readonly op: 'rename'; readonly name: string; readonly to: string }
  /** Set only when the field is absent (defaults such as security headers). */
  | { readonly op: 'default'; readonly name: string; readonly value: string };

function sameName(a: string, lower: string): boolean {
  return a.length === lower.length && a.toLowerCase() === lower;
}

/** Applies `ops` to `headers` in place and returns it. Names in ops are matched case-insensitively. */
export function applyHeaderOps(headers: string[], ops: readonly HeaderOp[]): string[] {
  for (const o of ops) {
    const lower = o.name.toLowerCase();
    switch (o.op) {
      case 'add':
        headers.push(o.name, o.value);
        break;
      case 'default': {
        let present = false;
        for (let i = 0; i < headers.length; i += 2) if (sameName(headers[i] as string, lower)) { present = true; break; }
        if (!present) headers.push(o.name, o.value);
        break;
      }
      case 'set':
      case 'remove': {
        let w = 0;
        for (let i = 0; i < headers.length; i += 2) {
          const n = headers[i] as string;
          if (sameName(n, lower)) continue;
          headers[w++] = n;
          headers[w++] = headers[i + 1] as string;
        }
        headers.length = w;
        if (o.op === 'set') headers.push(o.name, o.value);
        break;
      }
      case 'rename':
        for (let i = 0; i < headers.length; i += 2) if (sameName(headers[i] as string, lower)) headers[i] = o.to;
        break;
    }
  }
  return headers;
}

/** Appends to a nullable list (filters call this; the common request has no ops and no array). */
export function pushOps(list: HeaderOp[] | null, ops: readonly HeaderOp[]): HeaderOp[] | null {
  if (ops.length === 0) return list;
  if (list === null) return [...ops];
  for (const o of ops) list.push(o);
  return list;
}
