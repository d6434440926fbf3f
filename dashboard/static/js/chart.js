// The 7-day chart: delivered and failed bars per day against the left
// axis, p50 and p95 latency lines against the right one. Each day's
// numbers show on hover (its title) and in the table for screen readers.

import { el, svg } from './dom.js';

const W = 720, H = 230, left = 56, right = 664, top = 16, bottom = 176;

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten.
function niceMax(v, least) {
  if (v <= least) return least;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function drawChart(chart, table, days) {
  // At least 0, 1, 2 deliveries and 0, 5, 10 ms on the axes.
  const maxCount = niceMax(Math.max(...days.map((d) => d.delivered + d.failed)), 2);
  const maxLatency = niceMax(Math.max(0, ...days.map((d) => d.p95LatencyMs || 0)), 10);
  const slot = (right - left) / days.length, barW = Math.min(44, slot * 0.6);
  const yCount = (n) => bottom - (bottom - top) * n / maxCount;
  const yLatency = (ms) => bottom - (bottom - top) * ms / maxLatency;
  const parts = [];
  for (const f of [0, 0.5, 1]) {
    const y = bottom - (bottom - top) * f;
    parts.push(svg('line', { class: 'grid', x1: left, x2: right, y1: y, y2: y }),
      svg('text', { class: 'tick', x: left - 6, y: y + 4, 'text-anchor': 'end' }, Math.round(maxCount * f)),
      svg('text', { class: 'tick', x: right + 6, y: y + 4 }, Math.round(maxLatency * f)));
  }
  parts.push(
    svg('text', { class: 'axis-label', transform: `translate(14 ${(top + bottom) / 2}) rotate(-90)`, 'text-anchor': 'middle' }, 'Deliveries'),
    svg('text', { class: 'axis-label', transform: `translate(${W - 18} ${(top + bottom) / 2}) rotate(90)`, 'text-anchor': 'middle' }, 'Latency (ms)'));
  const lines = { p50: [], p95: [] };
  days.forEach((d, i) => {
    const cx = left + slot * i + slot / 2;
    const latency = d.p50LatencyMs === null ? 'no attempts' : 'p50 ' + d.p50LatencyMs + ' ms, p95 ' + d.p95LatencyMs + ' ms';
    const hD = yCount(0) - yCount(d.delivered), hF = yCount(0) - yCount(d.failed);
    parts.push(svg('g', { class: 'day', 'data-date': d.date, 'data-delivered': d.delivered, 'data-failed': d.failed },
      svg('title', {}, d.date + ': ' + d.delivered + ' delivered, ' + d.failed + ' failed; ' + latency),
      svg('rect', { class: 'hover', x: cx - slot / 2, y: top, width: slot, height: bottom - top }),
      svg('rect', { class: 'delivered', x: cx - barW / 2, y: bottom - hD - hF, width: barW, height: hD }),
      svg('rect', { class: 'failed', x: cx - barW / 2, y: bottom - hF, width: barW, height: hF }),
      svg('text', { class: 'tick', x: cx, y: bottom + 18, 'text-anchor': 'middle' }, d.date.slice(5)),
      svg('text', { class: 'count', x: cx, y: bottom + 34, 'text-anchor': 'middle' }, d.delivered + d.failed)));
    if (d.p50LatencyMs !== null) {
      lines.p50.push(cx + ',' + yLatency(d.p50LatencyMs));
      lines.p95.push(cx + ',' + yLatency(d.p95LatencyMs));
    }
  });
  for (const [name, points] of Object.entries(lines)) {
    if (points.length > 1) parts.push(svg('polyline', { class: 'latency ' + name, points: points.join(' ') }));
    for (const p of points) {
      const [x, y] = p.split(',');
      parts.push(svg('circle', { class: 'latency ' + name, cx: x, cy: y, r: 3 }));
    }
  }
  parts.push(svg('line', { class: 'axis', x1: left, x2: right, y1: bottom, y2: bottom }));
  const desc = chart.querySelector('desc');
  chart.replaceChildren(desc, ...parts);
  chart.setAttribute('viewBox', `0 0 ${W} ${H}`);
  table.replaceChildren(...days.map((d) => el('tr', {},
    el('th', { scope: 'row' }, d.date), el('td', {}, d.delivered), el('td', {}, d.failed),
    el('td', {}, d.p50LatencyMs === null ? '—' : d.p50LatencyMs), el('td', {}, d.p95LatencyMs === null ? '—' : d.p95LatencyMs))));
}
