/**
 * The status page's HTML, rendered on the server with Hono's JSX: no script, no external asset
 * (the style is inline, the charts are inline SVG). Every action is a form POST carrying the
 * session's CSRF token, and goes through a confirm step before it does anything.
 */
import type { Child } from 'hono/jsx';
import type { ListedJob } from '../listing';
import { type ActionInput, type ActionResult, STATUS_ACTIONS, type StatusAction } from './actions';
import { DeletedChart, OutcomesChart } from './chart';
import type { PageData } from './data';
import { STATUS_PATH } from './session';
import { findJob } from '../../jobs';

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#171717;background:#fafafa}
header{display:flex;justify-content:space-between;align-items:center;padding:10px 24px;background:#171717;color:#fafafa}
header h1{font-size:16px;margin:0} header form{margin:0} header span{margin-right:12px;color:#d4d4d4}
main{padding:16px 24px;max-width:1180px} h2{font-size:15px;margin:22px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff} th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e5e5e5;vertical-align:top}
th{font-weight:600;background:#f5f5f5} td.n{font-variant-numeric:tabular-nums} code{font-size:12px}
.ok{color:#15803d}.bad{color:#b91c1c}.muted{color:#737373}
.alarm{background:#fef2f2;border:1px solid #fecaca;padding:8px 12px;margin:6px 0;border-radius:4px}
.result table{width:auto;min-width:240px}.result{border:1px solid #bbf7d0;background:#f0fdf4;padding:10px 14px;border-radius:4px}.result.bad{border-color:#fecaca;background:#fef2f2}
.confirm{border:1px solid #fde68a;background:#fffbeb;padding:12px 16px;border-radius:4px}
button{font:inherit;padding:3px 10px;margin:1px 2px;border:1px solid #a3a3a3;border-radius:4px;background:#fff;cursor:pointer}
button.primary{background:#171717;color:#fff;border-color:#171717} td form{display:inline}
figure{margin:0 0 12px} figcaption{font-size:12px;color:#525252} .key{margin-left:10px;white-space:nowrap}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
svg .axis{font-size:10px;fill:#737373} .signin{max-width:360px;margin:12vh auto;background:#fff;padding:24px;border:1px solid #e5e5e5;border-radius:6px}
.signin input{width:100%;box-sizing:border-box;padding:6px;margin:6px 0 12px;font:inherit}`;

export function Layout(props: { title: string; children: Child; who?: string; csrf?: string }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="robots" content="noindex, nofollow, noarchive" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title}</title>
        <style>{STYLE}</style>
      </head>
      <body>
        <header>
          <h1>spacerr-jobs</h1>
          {props.who !== undefined && props.csrf !== undefined ? (
            <form method="post" action={`${STATUS_PATH}/sign-out`}>
              <span>{describeWho(props.who)}</span>
              <input type="hidden" name="csrf" value={props.csrf} />
              <button type="submit">Sign out</button>
            </form>
          ) : null}
        </header>
        {props.children}
      </body>
    </html>
  );
}

export function SignInPage(props: { message?: string; accessConfigured: boolean }) {
  return (
    <Layout title="Sign in · spacerr-jobs">
      <form class="signin" method="post" action={`${STATUS_PATH}/sign-in`}>
        <h2>Status page</h2>
        {props.message ? (
          <p class="bad" role="alert">
            {props.message}
          </p>
        ) : null}
        <label for="secret">CRON_SECRET</label>
        <input id="secret" name="secret" type="password" autocomplete="current-password" required />
        <button class="primary" type="submit">
          Sign in
        </button>
        {props.accessConfigured ? <p class="muted">Or open this page through Cloudflare Access.</p> : null}
      </form>
    </Layout>
  );
}

/** The confirm step of an action: the question, and a form that repeats it with `confirm=yes`. */
export function ConfirmPage(props: { action: StatusAction; input: ActionInput; csrf: string; who: string }) {
  const { action, input } = props;
  return (
    <Layout title={`${action.label} · spacerr-jobs`} who={props.who} csrf={props.csrf}>
      <main>
        <form class="confirm" method="post" action={`${STATUS_PATH}/actions/${action.name}`}>
          <p>
            <strong>{action.confirm(input)}</strong>
          </p>
          <input type="hidden" name="csrf" value={props.csrf} />
          {input.job ? <input type="hidden" name="job" value={input.job.name} /> : null}
          {(action.fields ?? []).map((f) => (
            <p>
              <label>
                {f.label} <input name={f.name} type={f.type ?? 'text'} value={input.fields[f.name] ?? ''} required={f.required} />
              </label>
            </p>
          ))}
          <input type="hidden" name="confirm" value="yes" />
          <button class="primary" type="submit">
            Confirm: {action.label}
          </button>{' '}
          <a href={STATUS_PATH}>Cancel</a>
        </form>
      </main>
    </Layout>
  );
}

export function StatusPage(props: { data: PageData; result?: ActionResult; actions?: readonly StatusAction[] }) {
  const { data } = props;
  const actions = props.actions ?? STATUS_ACTIONS;
  const { listing, history } = data;
  const jobs = listing.jobs.map((j) => j.name);
  return (
    <Layout title="Status · spacerr-jobs" who={data.who} csrf={data.csrf}>
      <main>
        {props.result ? <Result result={props.result} /> : null}
        <p class="muted">
          As of {when(data.now)}.{' '}
          {listing.ok ? <span class="ok">No alarm stands.</span> : <span class="bad">{listing.alarms.length} alarms stand.</span>}
        </p>
        {listing.alarms.map((a) => (
          <div class="alarm" data-alarm={a.code}>
            <strong>{a.code}</strong> ({a.job}, {a.count}): {a.message}
          </div>
        ))}
        <h2>Jobs</h2>
        <table id="jobs">
          <thead>
            <tr>
              <th>job</th>
              <th>last run</th>
              <th>next run</th>
              <th>backlog</th>
              <th>actions</th>
            </tr>
          </thead>
          <tbody>
            {listing.jobs.map((job) => (
              <JobRow job={job} csrf={data.csrf} paused={data.pauses?.find((p) => p.job === job.name)} actions={actions} />
            ))}
          </tbody>
        </table>
        <h2>Last {data.days.length} days</h2>
        <DeletedChart days={data.days} history={history.days} jobs={jobs} />
        <OutcomesChart days={data.days} history={history.days} />
        <h2>Latest failures</h2>
        {history.failures.length === 0 ? (
          <p class="muted">None in the history kept.</p>
        ) : (
          <table id="failures">
            <thead>
              <tr>
                <th>started</th>
                <th>job</th>
                <th>trigger</th>
                <th>phase</th>
                <th>error</th>
              </tr>
            </thead>
            <tbody>
              {history.failures.map((f) => (
                <tr data-run={f.id}>
                  <td>{when(f.startedAt)}</td>
                  <td>{f.job}</td>
                  <td>{f.trigger}</td>
                  <td>{f.phase}</td>
                  <td>
                    <code>{f.error ?? f.status}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {data.pauses ? <PausesPanel data={data} actions={actions} /> : null}
        {data.missed ? <MissedPanel data={data} /> : null}
        {data.holds ? <HoldsPanel data={data} actions={actions} /> : null}
        {actions
          .filter((a) => a.scope === 'page')
          .map((a) => (
            <PageActionForm action={a} csrf={data.csrf} />
          ))}
      </main>
    </Layout>
  );
}

function Result(props: { result: ActionResult }) {
  const r = props.result;
  return (
    <section class={r.ok ? 'result' : 'result bad'} id="result" role="status">
      <strong>{r.title}</strong>
      <p>{r.message}</p>
      {r.figures && Object.keys(r.figures).length > 0 ? (
        <table>
          <tbody>
            {Object.entries(r.figures).map(([k, v]) => (
              <tr data-count={k}>
                <th>{k}</th>
                <td class="n">{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function JobRow(props: {
  job: ListedJob;
  csrf: string;
  paused: { reason: string; by: string | null } | undefined;
  actions: readonly StatusAction[];
}) {
  const { job } = props;
  const run = job.lastRun;
  const declared = findJob(job.name);
  return (
    <tr data-job={job.name}>
      <td>
        <strong>{job.name}</strong>
        <br />
        <code class="muted">{job.cron}</code>
        {job.enabled ? null : <span class="muted"> (off)</span>}
        {props.paused ? <div class="bad">paused: {props.paused.reason}</div> : null}
      </td>
      <td>
        {run ? (
          <>
            <span class={run.status === 'succeeded' ? 'ok' : run.status === 'skipped' ? 'muted' : 'bad'}>{run.status}</span>{' '}
            {run.dryRun ? '(dry) ' : ''}
            {when(new Date(run.startedAt))} · {run.trigger}
            {run.durationMs === null ? '' : ` · ${run.durationMs} ms`}
            <br />
            <span class="muted">{countsText(run.counts)}</span>
            {run.error ? <div class="bad">{run.error}</div> : null}
          </>
        ) : (
          <span class="muted">never</span>
        )}
      </td>
      <td>
        {job.nextRunAt ? when(new Date(job.nextRunAt)) : <span class="muted">—</span>}
        {'nextRunAtIfIdle' in job && job.nextRunAtIfIdle ? <div class="muted">idle app: {when(new Date(job.nextRunAtIfIdle))}</div> : null}
      </td>
      <td class="n">{countsText(job.backlog) || <span class="muted">—</span>}</td>
      <td>
        {job.enabled
          ? props.actions
              .filter((a) => a.scope === 'job' && declared && (a.appliesTo?.(declared) ?? true))
              .map((a) => <RowAction action={a} csrf={props.csrf} hidden={{ job: job.name }} />)
          : null}
      </td>
    </tr>
  );
}

/** One action's button on a row: a form posting to its confirm step, the row's identity hidden. */
function RowAction(props: { action: StatusAction; csrf: string; hidden: Record<string, string> }) {
  return (
    <form method="post" action={`${STATUS_PATH}/actions/${props.action.name}`}>
      <input type="hidden" name="csrf" value={props.csrf} />
      {Object.entries(props.hidden).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <button type="submit" data-action={props.action.name}>
        {props.action.label}
      </button>
    </form>
  );
}

function PausesPanel(props: { data: PageData; actions: readonly StatusAction[] }) {
  const pauses = props.data.pauses ?? [];
  return (
    <section id="pauses">
      <h2>Paused jobs</h2>
      {pauses.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>job</th>
              <th>reason</th>
              <th>by</th>
              <th>since</th>
              <th>actions</th>
            </tr>
          </thead>
          <tbody>
            {pauses.map((p) => (
              <tr data-paused={p.job}>
                <td>{p.job}</td>
                <td>{p.reason}</td>
                <td>{p.by ?? ''}</td>
                <td>{when(new Date(p.since))}</td>
                <td>
                  {props.actions
                    .filter((a) => a.scope === 'pause')
                    .map((a) => (
                      <RowAction action={a} csrf={props.data.csrf} hidden={{ job: p.job }} />
                    ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function MissedPanel(props: { data: PageData }) {
  const missed = props.data.missed ?? [];
  return (
    <section id="missed">
      <h2>Missed slots</h2>
      <p class="muted">Scheduled runs whose delivery never came: each job's latest, and the run that ran for them.</p>
      {missed.length === 0 ? (
        <p class="muted">None recorded.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>job</th>
              <th>slots missed</th>
              <th>found</th>
              <th>run for them</th>
            </tr>
          </thead>
          <tbody>
            {missed.map((m) => (
              <tr data-missed={m.job}>
                <td>{m.job}</td>
                <td>{slotsText(m.slots)}</td>
                <td>{when(new Date(m.foundAt))}</td>
                <td>
                  <span class={m.status === 'succeeded' ? 'ok' : m.status === 'running' ? 'muted' : 'bad'}>{caughtUpText(m.status)}</span>{' '}
                  <code class="muted">{m.runId}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function HoldsPanel(props: { data: PageData; actions: readonly StatusAction[] }) {
  const holds = props.data.holds ?? [];
  const ended = props.data.endedHolds ?? [];
  return (
    <section id="holds">
      <h2>Legal holds</h2>
      {holds.length === 0 ? (
        <p class="muted">No account is under hold.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>account</th>
              <th>reason</th>
              <th>by</th>
              <th>since</th>
              <th>until</th>
              <th>actions</th>
            </tr>
          </thead>
          <tbody>
            {holds.map((h) => (
              <tr data-hold={h.userId}>
                <td>{h.userId}</td>
                <td>{h.reason}</td>
                <td>{h.by ?? ''}</td>
                <td>{when(new Date(h.since))}</td>
                <td>{h.until ? when(new Date(h.until)) : 'until lifted'}</td>
                <td>
                  {props.actions
                    .filter((a) => a.scope === 'hold')
                    .map((a) => (
                      <RowAction action={a} csrf={props.data.csrf} hidden={{ userId: h.userId }} />
                    ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {ended.length > 0 ? (
        <details id="ended-holds">
          <summary class="muted">
            {ended.length} ended {ended.length === 1 ? 'hold' : 'holds'} (kept until the account is erased)
          </summary>
          <table>
            <tbody>
              {ended.map((h) => (
                <tr data-ended-hold={h.userId}>
                  <td>{h.userId}</td>
                  <td>{h.reason}</td>
                  <td>{h.by ?? ''}</td>
                  <td>since {when(new Date(h.since))}</td>
                  <td>ended {when(new Date(h.until!))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ) : null}
    </section>
  );
}

/** A page-level action (one not tied to a job's row): its fields, posted to its confirm step. */
function PageActionForm(props: { action: StatusAction; csrf: string }) {
  return (
    <form method="post" action={`${STATUS_PATH}/actions/${props.action.name}`} id={`action-${props.action.name}`}>
      <h2>{props.action.label}</h2>
      <input type="hidden" name="csrf" value={props.csrf} />
      {(props.action.fields ?? []).map((f) => (
        <label>
          {f.label} <input name={f.name} type={f.type ?? 'text'} required={f.required} />{' '}
        </label>
      ))}
      <button type="submit">{props.action.label}</button>
    </form>
  );
}

export function describeWho(who: string): string {
  return who === 'secret' ? 'signed in with CRON_SECRET' : who.startsWith('access:') ? `${who.slice('access:'.length)} (Access)` : who;
}

/** Missed slots, oldest first: all of a few, else the first and last two and how many. */
function slotsText(slots: readonly string[]): string {
  const at = (iso: string) => when(new Date(iso));
  if (slots.length <= 4) return slots.map(at).join(', ');
  return `${slots.slice(0, 2).map(at).join(', ')} … ${slots.slice(-2).map(at).join(', ')} (${slots.length} in all)`;
}

function caughtUpText(status: string): string {
  if (status === 'succeeded') return 'caught up';
  if (status === 'running') return 'catching up';
  // A skipped catch-up of a busy job leaves its slot missed, and the next check runs it; a paused one does not.
  return `not caught up: the run ${status === 'skipped' ? 'was skipped' : status}`;
}

function when(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function countsText(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}
