/**
 * What the status page can do. Each action is one entry: its form (a button on a job's row, or a
 * form of its own on the page), the question its confirm step asks, and what it performs, the
 * same call the HTTP API and the CLI make, with the same checks of its input, so it is recorded
 * the same way (a run in `job_runs` with trigger `http`; a `requeued`, `job_paused`, `job_resumed`,
 * `hold_placed` or `hold_lifted` log line). Adding an action is one entry here; the form, the
 * confirm step (which asks for the action's `fields`), the CSRF check and the result come with it.
 * Where each kind of action shows (`scope`):
 * - `job`: a button on each job's row (`appliesTo` filters), e.g. pause with a `reason` field,
 *   performing `pauseJob(deps.db, job.name, { reason, by: who }, now)`;
 * - `pause`: a button on each row of the paused-jobs panel (its job), e.g. `resumeJob`;
 * - `hold`: a button on each row of the holds panel (field `userId` set to that hold's), e.g. `liftHold`;
 * - `page`: a form of its own with its `fields`, e.g. `placeHold` with `userId`, `reason`, `until`.
 */
import type { Invocation } from '../../deps';
import type { Job } from '../../run/job';
import { findJob } from '../../jobs';
import { runJob } from '../../run/runner';
import { checkHoldRequest, checkLiftRequest } from '../hold-input';
import { liftHoldLogged, NO_HOLD, pauseLogged, placeHoldLogged, requeueParked, resumeLogged } from '../operations';
import { checkPauseRequest } from '../pause-input';

/** A field of a page-level action's form. */
export interface ActionField {
  name: string;
  label: string;
  required: boolean;
  /** `datetime-local`, `text`… (HTML input type). */
  type?: string;
}

export interface ActionInput {
  /** The job the action is for (actions on a job's row), else undefined. */
  job: Job | undefined;
  /** The form's other fields, trimmed. */
  fields: Readonly<Record<string, string>>;
  /** Who signed in (the session's identity): what the action records as `by` where it records one. */
  who: string;
  now: Date;
}

/** What the page shows after an action: a sentence, and the figures (a run's counts) if any. */
export interface ActionResult {
  ok: boolean;
  /** The page's status when not ok and not a failure (500): 400 for input refused, 404 for nothing to act on. */
  refused?: 400 | 404;
  title: string;
  message: string;
  figures?: Readonly<Record<string, number>>;
}

export interface StatusAction {
  /** The form posts to `/api/internal/status/actions/<name>`. */
  readonly name: string;
  readonly label: string;
  readonly scope: 'job' | 'pause' | 'hold' | 'page';
  /** For `job` actions: whether the action applies to this job (requeue: only jobs that park). */
  appliesTo?(job: Job): boolean;
  /** What the confirm step asks for (a `hold` action's `userId` comes from its row). */
  readonly fields?: readonly ActionField[];
  /** The confirm step's question. */
  confirm(input: ActionInput): string;
  perform(deps: Invocation, input: ActionInput): Promise<ActionResult>;
}

/** A run as the HTTP route runs it (trigger `http`), dry or real. */
function runAction(dryRun: boolean): StatusAction {
  return {
    name: dryRun ? 'dry-run' : 'run',
    label: dryRun ? 'Dry run' : 'Run now',
    scope: 'job',
    confirm: ({ job }) =>
      dryRun ? `Count what ${job?.name} would delete now? Nothing is deleted.` : `Run ${job?.name} now? It deletes what is due.`,
    async perform(deps, { job, now }) {
      const report = await runJob(job!, deps, { trigger: 'http', now, dryRun });
      const more = report.more ? ' More is left: run it again, or let the next run carry on.' : '';
      return {
        ok: report.status === 'succeeded',
        title: `${dryRun ? 'Dry run' : 'Run'} of ${report.job}: ${report.status}`,
        message:
          report.status === 'succeeded'
            ? `${dryRun ? 'Would delete' : 'Deleted'} (run ${report.runId}, ${report.subrequests} subrequests).${more}`
            : `${report.error ?? ''}${report.phase ? ` (phase: ${report.phase})` : ''}`,
        figures: report.counts,
      };
    },
  };
}

/** A refusal of an action's input, with the message the JSON route would answer. */
const refused = (status: 400 | 404, title: string, message: string): ActionResult => ({ ok: false, refused: status, title, message });

/** The actions on pauses and holds: the JSON routes' calls and checks, `by` the signed-in identity. */
const PAUSE_AND_HOLD_ACTIONS: readonly StatusAction[] = [
  {
    name: 'pause',
    label: 'Pause',
    scope: 'job',
    fields: [{ name: 'reason', label: 'Reason', required: true }],
    confirm: ({ job }) => `Pause ${job?.name}? Its runs (but dry runs) are skipped until it is resumed.`,
    async perform(deps, { job, fields, who, now }) {
      const checked = checkPauseRequest({ reason: fields.reason, by: who });
      if (!checked.ok) return refused(400, 'Not paused', checked.message);
      const pause = await pauseLogged(deps.db, job!, checked.value, now);
      return { ok: true, title: `Paused ${pause.job}`, message: `Its runs are skipped until it is resumed: ${pause.reason}` };
    },
  },
  {
    name: 'resume',
    label: 'Resume',
    scope: 'pause',
    confirm: ({ job }) => `Resume ${job?.name}? Its next scheduled run runs it.`,
    async perform(deps, { job }) {
      const resumed = await resumeLogged(deps.db, job!);
      return {
        ok: true,
        title: resumed ? `Resumed ${job!.name}` : `${job!.name} was not paused`,
        message: resumed ? 'Its next run runs it.' : '',
      };
    },
  },
  {
    name: 'place-hold',
    label: 'Place a legal hold',
    scope: 'page',
    fields: [
      { name: 'userId', label: 'Account (user id)', required: true },
      { name: 'reason', label: 'Reason', required: true },
      { name: 'until', label: 'Until (UTC, optional)', required: false, type: 'date' },
    ],
    confirm: ({ fields }) =>
      `Place a legal hold on account ${fields.userId || '(the id below)'}? Nothing it owns is deleted while the hold stands.`,
    async perform(deps, { fields, who, now }) {
      const checked = checkHoldRequest({ userId: fields.userId, reason: fields.reason, by: who, until: fields.until || undefined }, now);
      if (!checked.ok) return refused(400, 'No hold placed', checked.message);
      const hold = await placeHoldLogged(deps.db, checked.value, now);
      return {
        ok: true,
        title: `Hold placed on ${hold.userId}`,
        message: hold.until ? `Until ${hold.until}.` : 'Until it is lifted.',
      };
    },
  },
  {
    name: 'lift-hold',
    label: 'Lift hold',
    scope: 'hold',
    fields: [{ name: 'userId', label: 'Account (user id)', required: true }],
    confirm: ({ fields }) => `Lift the legal hold on account ${fields.userId}? Past retention, it is erased by the account job's next run.`,
    async perform(deps, { fields }) {
      const userId = checkLiftRequest(fields.userId ?? '');
      if (!userId.ok) return refused(400, 'No hold lifted', userId.message);
      if (!(await liftHoldLogged(deps.db, userId.value))) return refused(404, 'No hold lifted', NO_HOLD);
      return {
        ok: true,
        title: `Hold lifted from ${userId.value}`,
        message: 'It stays listed as an ended hold until the account is erased.',
      };
    },
  },
];

export const STATUS_ACTIONS: readonly StatusAction[] = [
  runAction(true),
  runAction(false),
  {
    name: 'requeue',
    label: 'Requeue parked',
    scope: 'job',
    appliesTo: (job) => job.requeue !== undefined,
    confirm: ({ job }) => `Make every parked row of ${job?.name} due again, with a fresh count of attempts?`,
    async perform(deps, { job }) {
      const requeued = await requeueParked(deps.db, job!, job!.requeue!);
      return { ok: true, title: `Requeued for ${job!.name}`, message: `${requeued} parked rows are due again.`, figures: { requeued } };
    },
  },
  ...PAUSE_AND_HOLD_ACTIONS,
];

export function findAction(name: string): StatusAction | undefined {
  return STATUS_ACTIONS.find((a) => a.name === name);
}

/** Whether `action` needs a job (`job` and `pause` actions do). */
export const takesJob = (action: StatusAction) => action.scope === 'job' || action.scope === 'pause';

/** The job a `job` or `pause` action names, if it exists and the action applies to it. */
export function actionJob(action: StatusAction, name: string | undefined): Job | undefined {
  const job = name === undefined ? undefined : findJob(name);
  if (!job || !takesJob(action)) return undefined;
  return action.appliesTo === undefined || action.appliesTo(job) ? job : undefined;
}
