// Human-readable rendering of config diagnostics (for `sentinel test`, startup and reload logs).
import type { Diagnostic } from './types.ts';
import { plural } from './diagnostics.ts';

/** One diagnostic: `error[code]: message`, then `  --> file:line:column`, then an optional hint. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file;
  const lines = [`${d.severity}[${d.code}]: ${d.message}`, `  --> ${where}`];
  if (d.hint !== undefined) lines.push(`  hint: ${d.hint}`);
  return lines.join('\n');
}

/** All diagnostics, separated by blank lines, then a summary line `N errors, M warnings`. */
export function formatDiagnostics(diags: readonly Diagnostic[]): string {
  const errors = diags.filter((d) => d.severity === 'error').length;
  const warnings = diags.length - errors;
  const parts = diags.map(formatDiagnostic);
  parts.push(`${plural(errors, 'error')}, ${plural(warnings, 'warning')}`);
  return parts.join('\n\n') + '\n';
}
