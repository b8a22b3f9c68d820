// The toolkit every schema module uses: the validation context, diagnostics, and readers for the
// value shapes KDL configs use (strings, booleans, integers, durations, enums, addresses, blocks
// with known keys). Pure: no I/O. A reader reports what is wrong and returns undefined; it never
// throws.
import { isIPv4, isIPv6 } from 'node:net';
import type { Value } from 'kdljs';
import type { Diagnostic, SourceLoc } from '../types.ts';
import type { LNode, LValue, Pos } from '../kdl.ts';
import { makeDiagnostic, suggestionHint } from '../diagnostics.ts';

/** A reference from one object to another by id, checked once every file has been read. */
export interface Ref {
  /** What is referred to: `upstream`, `route`, `filter`, `agent`, … */
  readonly kind: string;
  /** Label of the referring object, e.g. `route "api"`. */
  readonly from: string;
  readonly name: string;
  readonly node: LNode;
  readonly path: string;
  /** Phrase for the message, e.g. `default-route` (default: the kind). */
  readonly via?: string;
}

export interface Ctx {
  readonly diags: Diagnostic[];
  /** Every reference, collected even from objects that have other errors. */
  readonly refs: Ref[];
}

export function createCtx(): Ctx {
  return { diags: [], refs: [] };
}

/** Largest duration accepted, in seconds (Node timers overflow past 2^31-1 ms). */
export const MAX_DURATION_SECS = 2_147_483;

export const NOT_IMPLEMENTED_HINT = 'remove it: Sentinel refuses configuration it cannot honour rather than ignoring it';

export function error(ctx: Ctx, node: { file: string }, pos: Pos, code: string, message: string, path: string, hint?: string): void {
  ctx.diags.push(makeDiagnostic('error', code, message, node.file, pos, path, hint));
}

export function warning(ctx: Ctx, node: { file: string }, pos: Pos, code: string, message: string, path: string, hint?: string): void {
  ctx.diags.push(makeDiagnostic('warning', code, message, node.file, pos, path, hint));
}

export function typeName(v: Value): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function q(s: string): string {
  return JSON.stringify(s);
}

export function where(node: LNode): string {
  return `${node.file}:${node.pos.line}`;
}

export function locOf(node: LNode): SourceLoc {
  return { file: node.file, line: node.pos.line, column: node.pos.column };
}

/** True when an error was reported at or under `path` (a sub-block rejected something). */
export function hasErrorsUnder(ctx: Ctx, path: string): boolean {
  return ctx.diags.some((d) => d.severity === 'error' && (d.path === path || d.path.startsWith(`${path}/`)));
}

// ---------- generic node readers ----------

export function rejectProps(ctx: Ctx, node: LNode, path: string, allowed: readonly string[] = []): void {
  for (const [key, v] of node.props) {
    if (allowed.includes(key)) continue;
    const hint = allowed.length > 0 ? suggestionHint(key, allowed, 'valid properties') : `"${node.name}" takes no properties`;
    error(ctx, node, v.pos, 'unknown-property', `unknown property ${q(key)} on ${q(node.name)}`, path, hint);
  }
}

export function rejectBlock(ctx: Ctx, node: LNode, path: string): void {
  if (node.hasBlock) {
    error(ctx, node, node.pos, 'unexpected-block', `${q(node.name)} takes a value, not a { } block`, path);
  }
}

/** For block nodes (`system { }`): no arguments, no properties. */
export function checkBlockNode(ctx: Ctx, node: LNode, path: string): void {
  const extra = node.args[0];
  if (extra !== undefined) {
    error(ctx, node, extra.pos, 'extra-argument', `${q(node.name)} is a block and takes no arguments`, path);
  }
  rejectProps(ctx, node, path);
}

/** Exactly one argument, no properties, no block. */
export function single(ctx: Ctx, node: LNode, path: string): LValue | undefined {
  rejectProps(ctx, node, path);
  rejectBlock(ctx, node, path);
  const first = node.args[0];
  if (first === undefined) {
    if (node.hasBlock) return undefined;
    error(ctx, node, node.pos, 'missing-argument', `${q(node.name)} needs a value`, path);
    return undefined;
  }
  const second = node.args[1];
  if (second !== undefined) {
    error(ctx, node, second.pos, 'extra-argument', `${q(node.name)} takes one value, got ${node.args.length}`, path);
  }
  return first;
}

export function expectString(ctx: Ctx, node: LNode, v: LValue, path: string): string | undefined {
  if (typeof v.value === 'string') return v.value;
  error(ctx, node, v.pos, 'invalid-type', `expected a string, got ${typeName(v.value)}`, path);
  return undefined;
}

export function readString(ctx: Ctx, node: LNode, path: string): string | undefined {
  const v = single(ctx, node, path);
  return v === undefined ? undefined : expectString(ctx, node, v, path);
}

export function readBool(ctx: Ctx, node: LNode, path: string): boolean | undefined {
  const v = single(ctx, node, path);
  if (v === undefined) return undefined;
  if (typeof v.value === 'boolean') return v.value;
  const hint = v.value === 'true' || v.value === 'false' ? `KDL v2 booleans are #true and #false` : undefined;
  error(ctx, node, v.pos, 'invalid-type', `expected a boolean (#true or #false), got ${typeName(v.value)}`, path, hint);
  return undefined;
}

export function checkInt(ctx: Ctx, node: LNode, v: LValue, path: string, min: number, max: number, what = q(node.name)): number | undefined {
  if (typeof v.value !== 'number' || !Number.isInteger(v.value)) {
    error(ctx, node, v.pos, 'invalid-type', `expected an integer, got ${typeName(v.value)}`, path);
    return undefined;
  }
  if (v.value < min || v.value > max) {
    error(ctx, node, v.pos, 'invalid-value', `${what} must be between ${min} and ${max}, got ${v.value}`, path);
    return undefined;
  }
  return v.value;
}

export function readInt(ctx: Ctx, node: LNode, path: string, min: number, max: number): number | undefined {
  const v = single(ctx, node, path);
  return v === undefined ? undefined : checkInt(ctx, node, v, path, min, max);
}

/** A positive number of seconds (fractions allowed), returned in milliseconds. */
export function readSecsAsMs(ctx: Ctx, node: LNode, path: string): number | undefined {
  const v = single(ctx, node, path);
  if (v === undefined) return undefined;
  if (typeof v.value !== 'number' || !Number.isFinite(v.value)) {
    error(ctx, node, v.pos, 'invalid-type', `expected a number of seconds, got ${typeName(v.value)}`, path);
    return undefined;
  }
  if (v.value <= 0 || v.value > MAX_DURATION_SECS) {
    error(ctx, node, v.pos, 'invalid-value', `${q(node.name)} must be greater than 0 and at most ${MAX_DURATION_SECS} seconds, got ${v.value}`, path);
    return undefined;
  }
  const ms = Math.round(v.value * 1000);
  if (ms < 1) {
    error(ctx, node, v.pos, 'invalid-value', `${q(node.name)} must be at least 0.001 seconds (1 ms), got ${v.value}`, path);
    return undefined;
  }
  return ms;
}

/** A fraction between 0 and 1 inclusive (`0.01`, `1`); integers 0 and 1 are accepted. */
export function readRatio(ctx: Ctx, node: LNode, path: string): number | undefined {
  const v = single(ctx, node, path);
  if (v === undefined) return undefined;
  if (typeof v.value !== 'number' || !Number.isFinite(v.value)) {
    error(ctx, node, v.pos, 'invalid-type', `expected a number between 0 and 1, got ${typeName(v.value)}`, path);
    return undefined;
  }
  if (v.value < 0 || v.value > 1) {
    error(ctx, node, v.pos, 'invalid-value', `${q(node.name)} must be between 0 and 1, got ${v.value}`, path, 'a share: 0.01 = 1%, 1 = all');
    return undefined;
  }
  return v.value;
}

export function readEnum<T extends string>(ctx: Ctx, node: LNode, path: string, allowed: readonly T[], notImplemented: readonly string[] = []): T | undefined {
  const s = readString(ctx, node, path);
  if (s === undefined) return undefined;
  if ((allowed as readonly string[]).includes(s)) return s as T;
  const pos = node.args[0]?.pos ?? node.pos;
  if (notImplemented.includes(s)) {
    error(ctx, node, pos, 'not-implemented', `${node.name} ${q(s)} is not implemented yet`, path, `supported: ${allowed.map(q).join(', ')}`);
    return undefined;
  }
  error(ctx, node, pos, 'invalid-value', `invalid ${node.name} ${q(s)}`, path, suggestionHint(s, [...allowed, ...notImplemented], 'valid values'));
  return undefined;
}

// ---------- addresses ----------

export const HOSTNAME_RE = /^(?=.{1,253}$)[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?(?:\.[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*\.?$/;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` / `[v6]:port`. Returns the parsed address or an error message. */
export function parseHostPort(s: string, minPort: number): HostPort | string {
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const m = /^\[([^\]]*)\]:(.*)$/.exec(s);
    if (m === null) return 'expected "[ipv6]:port", e.g. "[::1]:8080"';
    host = m[1] ?? '';
    portText = m[2] ?? '';
    if (!isIPv6(host)) return `${q(host)} is not a valid IPv6 address`;
  } else {
    const idx = s.lastIndexOf(':');
    if (idx < 0) return 'missing ":port" (expected "host:port", e.g. "127.0.0.1:8080")';
    host = s.slice(0, idx);
    portText = s.slice(idx + 1);
    if (host.includes(':')) return 'IPv6 addresses must be in brackets, e.g. "[::1]:8080"';
    if (host === '') return 'missing host before ":port"';
    if (!isIPv4(host) && (/^[0-9.]+$/.test(host) || !HOSTNAME_RE.test(host))) return `${q(host)} is not a valid host name or IP address`;
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return `invalid port ${q(portText)}`;
  const port = Number(portText);
  if (port < minPort || port > 65535) return `port must be between ${minPort} and 65535, got ${port}`;
  return { host, port };
}

export function readAddress(ctx: Ctx, node: LNode, path: string, minPort: number): HostPort | undefined {
  const s = readString(ctx, node, path);
  if (s === undefined) return undefined;
  return checkAddress(ctx, node, node.args[0]?.pos ?? node.pos, s, path, minPort);
}

export function checkAddress(ctx: Ctx, node: LNode, pos: Pos, s: string, path: string, minPort: number): HostPort | undefined {
  const r = parseHostPort(s, minPort);
  if (typeof r === 'string') {
    error(ctx, node, pos, 'invalid-address', `invalid address ${q(s)}: ${r}`, path);
    return undefined;
  }
  return r;
}

// ---------- blocks ----------

export interface BlockSpec {
  /** Human label of the block for messages, e.g. `listener "http"`. */
  readonly label: string;
  readonly keys: Readonly<Record<string, (child: LNode, path: string) => void>>;
  /** Keys that may appear more than once. */
  readonly repeatable?: readonly string[];
  /** Recognised keys that are not implemented (each is an error). */
  readonly notImplemented?: readonly string[];
  /** Keys valid elsewhere but not here: key → hint saying where they apply (an `unknown-key` error). */
  readonly misplaced?: Readonly<Record<string, string>>;
}

export function walkBlock(ctx: Ctx, block: LNode, path: string, spec: BlockSpec): void {
  const seen = new Map<string, LNode>();
  const valid = Object.keys(spec.keys);
  for (const child of block.children) {
    const childPath = `${path}/${child.name}`;
    const handler = spec.keys[child.name];
    if (handler !== undefined) {
      const first = seen.get(child.name);
      if (first !== undefined && !(spec.repeatable ?? []).includes(child.name)) {
        error(ctx, child, child.pos, 'duplicate-key', `${q(child.name)} is set twice in ${spec.label} (first at ${where(first)})`, childPath, 'remove one of them');
        continue;
      }
      seen.set(child.name, child);
      handler(child, childPath);
    } else if ((spec.notImplemented ?? []).includes(child.name)) {
      error(ctx, child, child.pos, 'not-implemented', `${q(child.name)} in ${spec.label} is not implemented yet`, childPath, NOT_IMPLEMENTED_HINT);
    } else if (spec.misplaced !== undefined && Object.hasOwn(spec.misplaced, child.name)) {
      error(ctx, child, child.pos, 'unknown-key', `${q(child.name)} does not apply to ${spec.label}`, childPath, spec.misplaced[child.name]);
    } else {
      error(ctx, child, child.pos, 'unknown-key', `unknown key ${q(child.name)} in ${spec.label}`, childPath, suggestionHint(child.name, valid));
    }
  }
}

/** `listener "id" { }` style: returns the id (or undefined when missing/invalid). */
export function readId(ctx: Ctx, node: LNode, path: string, kind: string): string | undefined {
  rejectProps(ctx, node, path);
  const first = node.args[0];
  if (first === undefined) {
    error(ctx, node, node.pos, 'missing-argument', `${kind} requires an id`, path, `e.g. ${kind} "main" { ... }`);
    return undefined;
  }
  const extra = node.args[1];
  if (extra !== undefined) {
    error(ctx, node, extra.pos, 'extra-argument', `${kind} takes one id, got ${node.args.length} arguments`, path);
  }
  const id = expectString(ctx, node, first, path);
  if (id === '') {
    error(ctx, node, first.pos, 'invalid-value', `${kind} id must not be empty`, path);
    return undefined;
  }
  return id;
}

export function nodePath(parent: string, node: LNode, id: string | undefined): string {
  return `${parent}/${node.name} ${id !== undefined ? q(id) : '?'}`;
}


export function readManyStrings(ctx: Ctx, n: LNode, p: string): { value: string; pos: Pos }[] | undefined {
  rejectProps(ctx, n, p);
  rejectBlock(ctx, n, p);
  if (n.args.length === 0) {
    error(ctx, n, n.pos, 'missing-argument', `${q(n.name)} needs at least one value`, p);
    return undefined;
  }
  const out: { value: string; pos: Pos }[] = [];
  let ok = true;
  for (const a of n.args) {
    const s = expectString(ctx, n, a, p);
    if (s === undefined) ok = false;
    else out.push({ value: s, pos: a.pos });
  }
  return ok ? out : undefined;
}

/** `isIPv6` re-exported for schema modules that check bracketed literals. */
export { isIPv4, isIPv6 };
