/**
 * The chart: one horizontal bar per row at its median ratio, a whisker from min to max, a line at 1 (as fast as the
 * baseline) and a tick at the target. Speed ratios and time ratios get separate panels because they read in opposite
 * directions. Plain SVG written by hand: no dependencies.
 */

import type { BenchReport } from './report.js';
import type { RowResult } from './measure.js';
import { formatSize } from './units.js';

const ROW_H = 22;
const LABEL_W = 430;
const PLOT_W = 520;
const VALUE_W = 220;
const PAD = 16;
const WIDTH = PAD + LABEL_W + PLOT_W + VALUE_W + PAD;
/** Ratios beyond this are drawn to the edge, with an arrow. */
const MAX_SCALE = 4;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function colour(r: RowResult): string {
  if (r.target === undefined) return '#6b8fb5';
  return r.target.met ? '#3f9b57' : '#d1493f';
}

function niceMax(rows: readonly RowResult[]): number {
  let top = 1.2;
  for (const r of rows) top = Math.max(top, r.ratio.max, r.target?.value ?? 0);
  top = Math.min(top, MAX_SCALE);
  const steps = [1.25, 1.5, 2, 2.5, 3, 4];
  return steps.find((s) => s >= top) ?? MAX_SCALE;
}

function panel(title: string, rows: readonly RowResult[], y0: number): { svg: string[]; height: number } {
  const out: string[] = [];
  const max = niceMax(rows);
  const x = (v: number): number => PAD + LABEL_W + (Math.min(v, max) / max) * PLOT_W;
  const top = y0 + 28;
  const height = 28 + rows.length * ROW_H + 30;
  out.push(`<text x="${PAD}" y="${y0 + 18}" class="h">${esc(title)}</text>`);
  // Grid: quarter steps, labelled.
  for (let v = 0; v <= max + 1e-9; v += max <= 2 ? 0.25 : 0.5) {
    const gx = x(v).toFixed(1);
    out.push(`<line x1="${gx}" y1="${top}" x2="${gx}" y2="${top + rows.length * ROW_H}" class="grid"/>`);
    out.push(`<text x="${gx}" y="${top + rows.length * ROW_H + 14}" class="tick" text-anchor="middle">${v.toFixed(2)}</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * ROW_H;
    const mid = y + ROW_H / 2;
    if (i % 2 === 1) out.push(`<rect x="${PAD}" y="${y}" width="${WIDTH - 2 * PAD}" height="${ROW_H}" class="band"/>`);
    out.push(`<text x="${PAD + LABEL_W - 8}" y="${mid + 4}" text-anchor="end">${esc(`${r.group}: ${r.label}`)}</text>`);
    out.push(
      `<rect x="${x(0).toFixed(1)}" y="${y + 5}" width="${(x(r.ratio.median) - x(0)).toFixed(1)}" height="${ROW_H - 10}" fill="${colour(r)}">` +
        `<title>${esc(`${r.subject} ÷ ${r.baseline}`)}</title></rect>`,
    );
    out.push(`<line x1="${x(r.ratio.min).toFixed(1)}" y1="${mid}" x2="${x(r.ratio.max).toFixed(1)}" y2="${mid}" class="whisker"/>`);
    for (const v of [r.ratio.min, r.ratio.max]) out.push(`<line x1="${x(v).toFixed(1)}" y1="${mid - 5}" x2="${x(v).toFixed(1)}" y2="${mid + 5}" class="whisker"/>`);
    if (r.ratio.max > max) out.push(`<text x="${x(max) - 2}" y="${mid + 4}" text-anchor="end" class="tick">▶</text>`);
    if (r.target !== undefined) {
      const tx = x(r.target.value).toFixed(1);
      out.push(`<line x1="${tx}" y1="${y + 2}" x2="${tx}" y2="${y + ROW_H - 2}" class="target"><title>${esc(r.target.source)}</title></line>`);
    }
    const extra = r.subjectPeakRssBytes === undefined ? '' : `, RSS ${formatSize(Math.round(r.subjectPeakRssBytes.median / 1048576) * 1048576)}`;
    out.push(
      `<text x="${PAD + LABEL_W + PLOT_W + 8}" y="${mid + 4}">${esc(`${r.ratio.median.toFixed(2)} [${r.ratio.min.toFixed(2)}–${r.ratio.max.toFixed(2)}]${extra}`)}</text>`,
    );
  });
  const one = x(1).toFixed(1);
  out.push(`<line x1="${one}" y1="${top - 4}" x2="${one}" y2="${top + rows.length * ROW_H + 2}" class="one"/>`);
  return { svg: out, height };
}

/** Renders the report's rows as an SVG document. */
export function chartSvg(report: BenchReport): string {
  const speed = report.rows.filter((r) => r.metric === 'speed');
  const time = report.rows.filter((r) => r.metric === 'time');
  const body: string[] = [];
  let y = 54;
  if (speed.length > 0) {
    const p = panel('Speed ÷ baseline (higher is better; 1 = baseline speed)', speed, y);
    body.push(...p.svg);
    y += p.height;
  }
  if (time.length > 0) {
    const p = panel('Time ÷ baseline (lower is better; 1 = baseline time)', time, y);
    body.push(...p.svg);
    y += p.height;
  }
  const m = report.machine;
  const height = y + 30;
  const subtitle =
    `${m.cpuModel}, ${m.cores} cores, Node ${m.node}, OpenSSL ${m.openssl} · ${report.options.mode} mode, ` +
    `median of ${report.options.runs} interleaved runs, whiskers min–max · bar colour: green target met, red missed, blue no target · ` +
    `dark tick: target`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    '<style>.h{font-weight:600;font-size:13px}.tick{fill:#555;font-size:10px}.grid{stroke:#e3e3e3}.band{fill:#f6f6f6}' +
      '.whisker{stroke:#222;stroke-width:1.2}.one{stroke:#222;stroke-dasharray:4 3}.target{stroke:#111;stroke-width:3}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${PAD}" y="22" font-size="16" font-weight="600">oss-cse benchmark, ${esc(report.finishedAt.slice(0, 19).replace('T', ' '))} UTC</text>`,
    `<text x="${PAD}" y="40" class="tick">${esc(subtitle)}</text>`,
    ...body,
    `<text x="${PAD}" y="${height - 10}" class="tick">${esc(`${report.rows.length} rows, ${report.skipped.length} not measured (see latest.json / latest.md)`)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
