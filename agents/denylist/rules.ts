// Denylist rules: compiled once from config, pure matching. IPs and CIDRs (IPv4 and IPv6, with
// IPv4-mapped IPv6 client addresses checked as IPv4), path prefixes (matched on the normalised
// path so %-encoding, dot segments and repeated slashes do not bypass them), User-Agent regexes
// (case-insensitive).
import net from 'node:net';

export interface DenylistConfig {
  ips?: string[];
  paths?: string[];
  user_agents?: string[];
  /** Status of the block response. Default 403. */
  status?: number;
  /** Body of the block response. Default "Forbidden". */
  body?: string;
}

export interface CompiledDenylist {
  readonly blockList: net.BlockList;
  readonly ipCount: number;
  readonly paths: readonly string[];
  readonly userAgents: readonly RegExp[];
  readonly status: number;
  readonly body: string;
}

export type Match = { rule: 'ip' | 'path' | 'user_agent'; value: string } | null;

export type CompileResult = { ok: true; value: CompiledDenylist } | { ok: false; errors: string[] };

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** A list, or one string as a list of one (a KDL `config { ips "10.0.0.0/8" }` arrives as a string). */
function listOf(v: unknown): string[] | null {
  if (v === undefined) return [];
  if (typeof v === 'string') return [v];
  return isStringArray(v) ? v : null;
}

export function compileDenylist(raw: unknown): CompileResult {
  const errors: string[] = [];
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, errors: ['config must be an object'] };
  const c = raw as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!['ips', 'paths', 'user_agents', 'status', 'body'].includes(k)) errors.push(`unknown key ${k}`);
  const blockList = new net.BlockList();
  let ipCount = 0;
  for (const key of ['ips', 'paths', 'user_agents'] as const) {
    if (listOf(c[key]) === null) errors.push(`${key} must be a string or an array of strings`);
  }
  for (const entry of listOf(c['ips']) ?? []) {
    const slash = entry.indexOf('/');
    const addr = slash === -1 ? entry : entry.slice(0, slash);
    const family = net.isIP(addr);
    if (family === 0) {
      errors.push(`ips: ${entry} is not an IP address or CIDR`);
      continue;
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const max = family === 4 ? 32 : 128;
    const prefix = slash === -1 ? max : Number(entry.slice(slash + 1));
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (slash !== -1 && !/^\d{1,3}$/.test(entry.slice(slash + 1)))) {
      errors.push(`ips: ${entry} has an invalid prefix length`);
      continue;
    }
    blockList.addSubnet(addr, prefix, type);
    ipCount++;
  }
  const paths = listOf(c['paths']) ?? [];
  for (const p of paths) if (!p.startsWith('/')) errors.push(`paths: ${p} must start with /`);
  const userAgents: RegExp[] = [];
  for (const pattern of listOf(c['user_agents']) ?? []) {
    try {
      userAgents.push(new RegExp(pattern, 'i'));
    } catch (e) {
      errors.push(`user_agents: ${pattern}: ${(e as Error).message}`);
    }
  }
  const status = c['status'] ?? 403;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) errors.push('status must be an integer 400..599');
  const body = c['body'] ?? 'Forbidden';
  if (typeof body !== 'string') errors.push('body must be a string');
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { blockList, ipCount, paths: paths.map(normalizePath), userAgents, status: status as number, body: body as string } };
}

/** The path part of a request target, %-decoded, with dot segments resolved and slashes collapsed. */
export function normalizePath(uri: string): string {
  let path = uri;
  const q = path.search(/[?#]/);
  if (q !== -1) path = path.slice(0, q);
  // Decode repeatedly (bounded) so double encoding cannot hide a prefix either.
  for (let i = 0; i < 3; i++) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      break;
    }
    if (decoded === path) break;
    path = decoded;
  }
  path = path.replace(/\\/g, '/').replace(/\/{2,}/g, '/');
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '.' || seg === '') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const trailing = path.endsWith('/') && out.length > 0 ? '/' : '';
  return `/${out.join('/')}${trailing}`;
}

function ipMatches(list: net.BlockList, ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped !== null) return list.check(mapped[1] as string, 'ipv4') || list.check(ip, 'ipv6');
  const family = net.isIP(ip);
  if (family === 0) return false;
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

function pathMatches(prefix: string, path: string): boolean {
  if (!path.startsWith(prefix)) return false;
  // "/admin" blocks "/admin" and "/admin/x", not "/administrator"; a prefix ending in "/" is literal.
  return prefix.endsWith('/') || path.length === prefix.length || path[prefix.length] === '/';
}

export function matchRequest(d: CompiledDenylist, clientIp: string, uri: string, userAgents: readonly string[]): Match {
  if (d.ipCount > 0 && ipMatches(d.blockList, clientIp)) return { rule: 'ip', value: clientIp };
  if (d.paths.length > 0) {
    const path = normalizePath(uri);
    for (const p of d.paths) if (pathMatches(p, path)) return { rule: 'path', value: p };
  }
  for (const re of d.userAgents) for (const ua of userAgents) if (re.test(ua)) return { rule: 'user_agent', value: re.source };
  return null;
}
