/**
 * The page's two charts, inline SVG drawn on the server: rows deleted per day, stacked by job,
 * and runs per day, stacked by outcome. Every bar carries its figures as `data-` attributes and
 * a `<title>` (the browser's tooltip), so what it shows can be read back.
 */
import type { DayOfRuns } from '../../db/run-history';

const WIDTH = 1120;
const HEIGHT = 160;
const LEFT = 48;
const BOTTOM = 20;
const TOP = 8;
export const JOB_COLOURS = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#65a30d', '#dc2626'];
export const OUTCOMES = [
  { key: 'succeeded', colour: '#16a34a' },
  { key: 'skipped', colour: '#a3a3a3' },
  { key: 'failed', colour: '#dc2626' },
  { key: 'abandoned', colour: '#ea580c' },
  { key: 'running', colour: '#2563eb' },
] as const;

interface Segment {
  key: string;
  colour: string;
  value: number;
}

/** Stacked bars, one per day; `segments(day)` gives its parts bottom up. */
function Bars(props: { id: string; label: string; unit: string; days: string[]; segments: (day: string) => Segment[] }) {
  const totals = props.days.map((d) => props.segments(d).reduce((s, x) => s + x.value, 0));
  const max = Math.max(1, ...totals);
  const plotH = HEIGHT - TOP - BOTTOM;
  const step = (WIDTH - LEFT) / props.days.length;
  const barW = Math.max(2, step - 3);
  return (
    <svg id={props.id} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width={WIDTH} height={HEIGHT} role="img" aria-label={props.label}>
      <line x1={LEFT} y1={TOP} x2={LEFT} y2={HEIGHT - BOTTOM} stroke="#d4d4d4" />
      <line x1={LEFT} y1={HEIGHT - BOTTOM} x2={WIDTH} y2={HEIGHT - BOTTOM} stroke="#d4d4d4" />
      <text x={LEFT - 6} y={TOP + 10} text-anchor="end" class="axis">
        {fmt(max)}
      </text>
      <text x={LEFT - 6} y={HEIGHT - BOTTOM} text-anchor="end" class="axis">
        0
      </text>
      {props.days.map((day, i) => {
        let y = HEIGHT - BOTTOM;
        const x = LEFT + i * step + 1.5;
        return (
          <g data-day={day} data-total={totals[i]}>
            {props
              .segments(day)
              .filter((s) => s.value > 0)
              .map((s) => {
                const h = Math.max(1, (s.value / max) * plotH);
                y -= h;
                return (
                  <rect
                    x={x.toFixed(1)}
                    y={y.toFixed(1)}
                    width={barW.toFixed(1)}
                    height={h.toFixed(1)}
                    fill={s.colour}
                    data-key={s.key}
                    data-value={s.value}
                  >
                    <title>{`${day} ${s.key}: ${s.value} ${props.unit}`}</title>
                  </rect>
                );
              })}
            {i % 5 === 0 || i === props.days.length - 1 ? (
              <text x={(x + barW / 2).toFixed(1)} y={HEIGHT - 5} text-anchor="middle" class="axis">
                {day.slice(5)}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}

export function DeletedChart(props: { days: string[]; history: DayOfRuns[]; jobs: string[] }) {
  const byKey = new Map(props.history.map((r) => [`${r.day}/${r.job}`, r]));
  return (
    <figure>
      <Bars
        id="chart-deleted"
        label="Rows deleted per day, by job"
        unit="rows"
        days={props.days}
        segments={(day) =>
          props.jobs.map((job, j) => ({
            key: job,
            colour: JOB_COLOURS[j % JOB_COLOURS.length]!,
            value: byKey.get(`${day}/${job}`)?.deleted ?? 0,
          }))
        }
      />
      <figcaption>
        Rows deleted per day (UTC), by job:{' '}
        {props.jobs.map((job, j) => (
          <span class="key">
            <i style={`background:${JOB_COLOURS[j % JOB_COLOURS.length]}`} />
            {job}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

export function OutcomesChart(props: { days: string[]; history: DayOfRuns[] }) {
  const byDay = new Map<string, Record<string, number>>();
  for (const r of props.history) {
    const sum = byDay.get(r.day) ?? {};
    for (const o of OUTCOMES) sum[o.key] = (sum[o.key] ?? 0) + r[o.key];
    byDay.set(r.day, sum);
  }
  return (
    <figure>
      <Bars
        id="chart-outcomes"
        label="Runs per day, by outcome"
        unit="runs"
        days={props.days}
        segments={(day) => OUTCOMES.map((o) => ({ key: o.key, colour: o.colour, value: byDay.get(day)?.[o.key] ?? 0 }))}
      />
      <figcaption>
        Runs per day (UTC), by outcome:{' '}
        {OUTCOMES.map((o) => (
          <span class="key">
            <i style={`background:${o.colour}`} />
            {o.key}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

function fmt(n: number): string {
  return n >= 10_000 ? `${Math.round(n / 1000)}k` : String(n);
}
