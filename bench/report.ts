/**
 * The results table (printed and written to bench/RESULTS.md) and the machine description.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release } from 'node:os';
import type { Sample } from './load.js';
import type { Footprint } from './store.js';

export interface Row {
  id: string;
  label: string;
  /** 'req' rows are per request, 'login' rows per login, 'bytes' rows a memory figure. */
  unit: 'req' | 'login' | 'bytes';
  sample?: Sample;
  /** Every repetition, for the JSON output. */
  samples?: Sample[];
  bytes?: number;
  /** Main ratio (see `ratioNote`): throughput vs the baseline, or latency vs raw openid-client. */
  ratio?: number;
  /** Baseline CPU µs / this row's CPU µs: the steadier figure on a busy machine. */
  cpuRatio?: number;
  target?: { text: string; met: boolean; by: string };
}

export interface Machine {
  cpuModel: string;
  cores: number;
  node: string;
  os: string;
  memGb: number;
  loadAtStart: number[];
  loadAtEnd?: number[];
}

export function describeMachine(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpuModel = m[1].trim();
  } catch {
    // not Linux: os.cpus() is good enough
  }
  return {
    cpuModel,
    cores: cpus().length,
    node: process.version,
    os: `${process.platform} ${release()}`,
    memGb: Math.round(totalmem() / 2 ** 30),
    loadAtStart: loadavg(),
  };
}

const num = (v: number, digits = 0): string => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (v: number): string => (v < 10 ? num(v, 2) : v < 100 ? num(v, 1) : num(v));

function cells(row: Row): string[] {
  const s = row.sample;
  const ratio = row.ratio === undefined ? '' : `${num(row.ratio, 2)}×`;
  const cpuRatio = row.cpuRatio === undefined ? '' : `${num(row.cpuRatio, 2)}×`;
  const target = row.target ? `${row.target.text} ${row.target.met ? 'met' : 'MISSED'}${row.target.by ? ` (${row.target.by})` : ''}` : '';
  if (row.unit === 'bytes') return [row.id, row.label, '', '', '', `${num(row.bytes ?? 0)} B`, '', '', target];
  return [row.id, row.label, s ? num(s.rps, s.rps < 100 ? 1 : 0) : '', s ? ms(s.p50) : '', s ? ms(s.p99) : '', s ? num(s.cpuUs) : '', ratio, cpuRatio, target];
}

const HEADER = ['#', 'scenario', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'ratio', 'CPU ratio', 'target'];

/** A Markdown table (readable as plain text too). */
export function renderTable(rows: Row[]): string {
  const table = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(table[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...table.slice(1).map(line)].join('\n');
}

export const RATIO_NOTES = [
  "Rows 1–5: `ratio` = req/s ÷ row 1 (bare Express) in the same run; `CPU ratio` = row 1's server CPU µs/req ÷ the row's (higher is better for both). fedgate runs with its defaults; the `cacheTtl: 0` rows turn its in-process session cache off, so every request reads the session from Redis.",
  "Row 6: per login instead of per request (req/s = logins/s, CPU = the app server's CPU per login, excluding the OP); `ratio` = fedgate p50 latency ÷ raw openid-client p50 latency at the same concurrency (lower is better).",
  'Row 7: `MEMORY USAGE` of every key one login leaves in Redis (the session key and any index keys).',
  'Row 8: the fedgate session path (as row 4, cache on and off) against a Redis holding 1 000 vs 1 000 000 sessions; `ratio` = req/s ÷ the 1 000 row with the same cache setting.',
];

export interface Report {
  date: string;
  smoke: boolean;
  machine: Machine;
  settings: { connections: number; duration: number; rounds: number; warmup: number; loginDuration: number; fillSmall: number; fillLarge: number };
  rows: Row[];
  footprint: Footprint;
  fill: { seconds: number; usedMemoryLarge: number };
  totalSeconds: number;
  note?: string;
}

export function renderMarkdown(r: Report): string {
  const m = r.machine;
  const load = (l: number[] | undefined) => (l ? l.map((v) => v.toFixed(2)).join(' / ') : 'n/a');
  const busy = (m.loadAtStart[0] ?? 0) > 0.5;
  const targets = r.rows.filter((row) => row.target);
  return `# fedgate benchmark results

Written by \`npm run bench\` (bench/run.ts). Ratios are what we track: absolute numbers drift between runs and machines.

- Date: ${r.date}
- Machine: ${m.cores} × ${m.cpuModel}, ${m.memGb} GB RAM, ${m.os}
- Node: ${m.node}
- Load average (1/5/15 min) at start: ${load(m.loadAtStart)}; at end: ${load(m.loadAtEnd)}
- Settings: ${r.settings.connections} connections, ${r.settings.rounds} × ${r.settings.duration} s per scenario (median reported; rounds interleaved across scenarios), ${r.settings.warmup} s warm-up; logins ${r.settings.rounds} × ${r.settings.loginDuration} s; 8: ${num(r.settings.fillSmall)} vs ${num(r.settings.fillLarge)} sessions
- Whole run: ${Math.round(r.totalSeconds)} s${r.smoke ? ' (SMOKE run: 1 × 1 s, not representative)' : ''}
${busy || r.note ? `\n> **Note:** ${[busy ? `the machine was busy with other work during this run (load average ${load(m.loadAtStart)} at start on ${m.cores} cores), so absolute numbers are low and noisy; the ratios and the CPU µs/req column are the figures to read.` : '', r.note ?? ''].filter(Boolean).join(' ')}\n` : ''}
${renderTable(r.rows)}

${RATIO_NOTES.map((n) => `- ${n}`).join('\n')}

## Targets

${targets.map((row) => `- ${row.id} ${row.label}: ${row.target!.text} → ${row.target!.met ? '**met**' : '**missed**'}${row.target!.by ? `, ${row.target!.by}` : ''}`).join('\n')}

## Session footprint (row 7)

One login's keys (upstream RS256 ID token with profile claims, ~1 KB JWT access token, refresh token):

| key | type | MEMORY USAGE | value bytes |
|-----|------|-------------:|------------:|
${r.footprint.keys.map((k) => `| \`${k.kind}\` | ${k.type} | ${num(k.bytes)} | ${k.valueBytes === undefined ? '' : num(k.valueBytes)} |`).join('\n')}

## Large store (row 8)

Filled with copies of a real session blob under the same prefix in ${r.fill.seconds.toFixed(1)} s; Redis \`used_memory\` with ${num(r.settings.fillLarge)} sessions: ${num(r.fill.usedMemoryLarge / 2 ** 20)} MiB.
`;
}
