// The reviewer console (R4, R5, R13, R15): the photo queue and the truck pass queue, one item at a time, by mouse or keyboard.

import { ApiProblem, call, problemView, showProblem } from '../api';
import { dateTime, facts, h, loading, notice, refresh, replace, tabs, type Child } from '../dom';
import { PASS_STATES, REJECTION_REASONS, SEX, tr, word } from '../i18n';
import type { Cleanup, PageContext } from '../main';
import type { Page, PassQueueItem, QueueItem, ReviewItem, TruckPass } from '../types';
import { dueBadge, history, passTerms } from './parts';

/** A message carried to the next item (what was decided, or that someone else decided first). */
let flash: HTMLElement | null = null;

/** Decisions in progress are kept per item, so that signing in again after the token ended loses nothing. */
interface Draft {
  reasons: string[];
  note: string;
}
const draftKey = (id: string) => `edl.review.draft.${id}`;
function loadDraft(id: string): Draft {
  const stored = sessionStorage.getItem(draftKey(id));
  return stored ? (JSON.parse(stored) as Draft) : { reasons: [], note: '' };
}
function saveDraft(id: string, draft: Draft): void {
  sessionStorage.setItem(draftKey(id), JSON.stringify(draft));
}

function isTyping(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement ||
    (target instanceof HTMLElement && target.isContentEditable)
  );
}

/** Whether the API says someone else decided first: the version moved, or the item left the queue. */
function decidedElsewhere(error: unknown): error is ApiProblem {
  return (
    error instanceof ApiProblem &&
    (error.slug === 'conflict' || error.slug === 'illegal-transition' || error.slug === 'pass-not-active')
  );
}

export async function reviewerPage({ root, path, query }: PageContext): Promise<Cleanup> {
  const tab = path[0] === 'passes' ? 'passes' : 'photos';
  const selected = path[1];
  const overdueOnly = query.has('overdue');
  const base = `#/reviewer/${tab}`;
  const suffix = overdueOnly ? '?overdue' : '';
  const status = h('div', { class: 'flash' }, flash);
  flash = null;
  const queueBox = h('section', { class: 'queue', 'aria-label': tr('队列', 'Queue') }, loading());
  const itemBox = h('section', { class: 'item', 'aria-live': 'polite' });
  replace(
    root,
    h('h1', null, tr('审核工作台', 'Review console')),
    tabs([
      { href: '#/reviewer/photos', label: tr('照片审核', 'Photos'), current: tab === 'photos' },
      { href: '#/reviewer/passes', label: tr('货车通行证审核', 'Truck passes'), current: tab === 'passes' },
    ]),
    status,
    h(
      'p',
      { class: 'shortcuts', id: 'shortcuts' },
      tr(
        '键盘：N 下一项 · P 上一项 · U 刷新队列 · A 通过 · 数字或 R 输入拒绝理由编号后回车拒绝 · M 标记恶意',
        'Keys: N next · P previous · U update the queue · A approve · a number or R types reason numbers, Enter rejects · M malicious',
      ),
    ),
    h('div', { class: 'review-layout' }, queueBox, itemBox),
  );

  let ids: string[] = [];
  const go = (id: string | undefined) => {
    location.hash = id ? `${base}/${encodeURIComponent(id)}${suffix}` : `${base}${suffix}`;
  };
  const neighbour = (step: number) => {
    if (ids.length === 0) return undefined;
    const at = selected ? ids.indexOf(selected) : -1;
    if (at < 0) return ids[0];
    return ids[Math.min(Math.max(at + step, 0), ids.length - 1)];
  };
  /** After a decision: the item that took the decided one's place in the queue (the one before it when it was
   * the last), or the queue's start when none waits. */
  const moveOn = (message: HTMLElement) => {
    flash = message;
    const at = selected ? ids.indexOf(selected) : -1;
    const rest = ids.filter((id) => id !== selected);
    go(rest[Math.min(Math.max(at, 0), rest.length - 1)]);
  };

  let actions: ItemActions | null = null;
  const onKey = (event: KeyboardEvent) => {
    if (event.ctrlKey || event.metaKey || event.altKey || document.querySelector('dialog[open]')) return;
    if (isTyping(event.target)) return;
    const key = event.key.toLowerCase();
    if (key === 'n' || key === 'j') {
      event.preventDefault();
      go(neighbour(1));
    } else if (key === 'p' || key === 'k') {
      event.preventDefault();
      go(neighbour(-1));
    } else if (key === 'u') {
      event.preventDefault();
      refresh();
    } else if (actions && key === 'a') {
      event.preventDefault();
      actions.approve();
    } else if (actions && key === 'm' && actions.malicious) {
      event.preventDefault();
      actions.malicious();
    } else if (actions && (key === 'r' || /^[0-9]$/.test(key))) {
      event.preventDefault();
      actions.typeReason(/^[0-9]$/.test(key) ? key : '');
    }
  };
  document.addEventListener('keydown', onKey);
  let timer: number | undefined;
  const cleanup = () => {
    document.removeEventListener('keydown', onKey);
    if (timer) clearTimeout(timer);
  };

  try {
    if (tab === 'photos') {
      const page = await call<Page<QueueItem>>('GET', `/reviews?limit=50${overdueOnly ? '&overdue=true' : ''}`);
      ids = page.items.map((i) => i.id);
      replace(queueBox, photoQueue(page.items, selected, base, overdueOnly));
    } else {
      const page = await call<Page<PassQueueItem>>('GET', `/truck/reviews?limit=50${overdueOnly ? '&overdue=true' : ''}`);
      ids = page.items.map((i) => i.pass.id);
      replace(queueBox, passQueue(page.items, selected, base, overdueOnly));
    }
  } catch (error) {
    showProblem(queueBox, error);
    return cleanup;
  }
  if (!selected) {
    if (ids[0]) location.replace(`${base}/${encodeURIComponent(ids[0])}${suffix}`);
    else replace(itemBox, h('p', { class: 'empty' }, tr('队列已清空，暂无待审核项目。', 'The queue is empty: nothing waits for review.')));
    return cleanup;
  }
  replace(itemBox, loading());
  try {
    if (tab === 'photos') {
      const item = await call<ReviewItem>('GET', `/reviews/${encodeURIComponent(selected)}`);
      actions = photoItem(itemBox, item, moveOn);
      // Photo links live five minutes: fetch fresh ones before they end.
      const refreshIn = new Date(item.linksExpireAt).getTime() - Date.now() - 15_000;
      if (refreshIn > 0) {
        timer = window.setTimeout(async () => {
          try {
            const fresh = await call<ReviewItem>('GET', `/reviews/${encodeURIComponent(selected)}`);
            itemBox.querySelectorAll<HTMLImageElement>('img[data-photo="new"]').forEach((img) => (img.src = fresh.photoUrl));
            if (fresh.previousPhotoUrl) {
              itemBox.querySelectorAll<HTMLImageElement>('img[data-photo="previous"]').forEach((img) => {
                img.src = fresh.previousPhotoUrl ?? '';
              });
            }
          } catch {
            // The next action shows what is wrong.
          }
        }, refreshIn);
      }
    } else {
      const pass = await call<TruckPass>('GET', `/truck/passes/${encodeURIComponent(selected)}`);
      actions = passItem(itemBox, pass, moveOn);
    }
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 404) {
      replace(
        itemBox,
        notice('warn', tr('该项目已不在队列中（可能已由他人处理）。', 'This item is no longer in the queue (someone may have decided it).')),
      );
    } else {
      showProblem(itemBox, error);
    }
  }
  return cleanup;
}

function queueList(entries: { id: string; body: Child; overdue: boolean }[], selected: string | undefined, base: string, overdueOnly: boolean): Child[] {
  const suffix = overdueOnly ? '?overdue' : '';
  return [
    h(
      'div',
      { class: 'queue-head' },
      h('strong', null, tr(`${entries.length} 项待审核`, `${entries.length} waiting`)),
      h(
        'span',
        null,
        h('button', { type: 'button', class: 'quiet', onclick: refresh, 'aria-keyshortcuts': 'U' }, tr('刷新', 'Update')),
        h(
          'a',
          { href: overdueOnly ? base : `${base}?overdue`, class: 'filter' },
          overdueOnly ? tr('显示全部', 'Show all') : tr('只看逾期', 'Overdue only'),
        ),
      ),
    ),
    h(
      'ol',
      { class: 'queue-list' },
      entries.map((entry, index) =>
        h(
          'li',
          { class: `${entry.overdue ? 'overdue' : ''} ${entry.id === selected ? 'selected' : ''}` },
          h(
            'a',
            {
              href: `${base}/${encodeURIComponent(entry.id)}${suffix}`,
              'aria-current': entry.id === selected ? 'true' : null,
              'data-id': entry.id,
            },
            h('span', { class: 'index' }, `${index + 1}`),
            entry.body,
          ),
        ),
      ),
    ),
  ];
}

function photoQueue(items: QueueItem[], selected: string | undefined, base: string, overdueOnly: boolean): Child[] {
  return queueList(
    items.map((item) => {
      const failed = item.checks.filter((c) => !c.passed).length;
      return {
        id: item.id,
        overdue: item.overdue,
        body: [
          h('span', { class: 'when' }, dateTime(item.submittedAt)),
          dueBadge(item.dueAt, item.overdue),
          item.overdue ? h('span', { class: 'badge badge-red' }, tr('逾期', 'Overdue')) : null,
          item.resubmission ? h('span', { class: 'badge' }, tr('重新提交', 'Resubmitted')) : null,
          item.awaitingConfirmation ? h('span', { class: 'badge badge-red' }, tr('恶意举报待复核', 'Malicious: awaiting a second reviewer')) : null,
          h(
            'span',
            { class: failed ? 'checks-failed' : 'checks-passed' },
            failed
              ? tr(`${failed} 项自动检查未通过`, `${failed} automatic checks failed`)
              : tr('自动检查通过', 'Automatic checks passed'),
          ),
        ],
      };
    }),
    selected,
    base,
    overdueOnly,
  );
}

function passQueue(items: PassQueueItem[], selected: string | undefined, base: string, overdueOnly: boolean): Child[] {
  return queueList(
    items.map(({ pass, dueAt, overdue }) => ({
      id: pass.id,
      overdue,
      body: [
        h('span', { class: 'when' }, `${pass.plate} · ${pass.city} · ${pass.passType}`),
        dueBadge(dueAt, overdue),
        overdue ? h('span', { class: 'badge badge-red' }, tr('逾期', 'Overdue')) : null,
      ],
    })),
    selected,
    base,
    overdueOnly,
  );
}

interface ItemActions {
  approve: () => void;
  typeReason: (digit: string) => void;
  malicious?: () => void;
}

function photoItem(box: HTMLElement, item: ReviewItem, moveOn: (message: HTMLElement) => void): ItemActions {
  const draft = loadDraft(item.id);
  const result = h('div', { class: 'result' });
  const boxes = REJECTION_REASONS.map(([code]) =>
    h('input', { type: 'checkbox', name: 'reason', value: code, checked: draft.reasons.includes(code) }),
  );
  const numbers = h('input', {
    id: 'reason-numbers',
    class: 'reason-numbers',
    inputmode: 'numeric',
    autocomplete: 'off',
    'aria-label': tr('拒绝理由编号（空格分隔，回车拒绝）', 'Reason numbers (space separated; Enter rejects)'),
    placeholder: tr('如 1 7 12', 'e.g. 1 7 12'),
    value: draft.reasons
      .map((code) => REJECTION_REASONS.findIndex(([c]) => c === code) + 1)
      .filter((n) => n > 0)
      .join(' '),
  });
  const note = h('textarea', { name: 'note', rows: '2', maxlength: '1000' }, draft.note);
  const chosen = () => boxes.filter((b) => b.checked).map((b) => b.value);
  const keep = () => saveDraft(item.id, { reasons: chosen(), note: note.value });
  boxes.forEach((b) =>
    b.addEventListener('change', () => {
      numbers.value = boxes
        .map((box, i) => (box.checked ? String(i + 1) : ''))
        .filter(Boolean)
        .join(' ');
      keep();
    }),
  );
  numbers.addEventListener('input', () => {
    const picked = new Set(numbers.value.split(/[^0-9]+/).filter(Boolean).map(Number));
    boxes.forEach((b, i) => (b.checked = picked.has(i + 1)));
    keep();
  });
  note.addEventListener('input', keep);

  let busy = false;
  const decide = async (verdict: 'approve' | 'reject' | 'malicious', reasons: string[], text: string) => {
    if (busy) return;
    busy = true;
    replace(result, h('p', { role: 'status' }, tr('正在提交…', 'Submitting…')));
    try {
      await call('POST', `/reviews/${encodeURIComponent(item.id)}/decision`, {
        body: { verdict, reasons, note: text },
      });
      sessionStorage.removeItem(draftKey(item.id));
      const what =
        verdict === 'approve'
          ? tr('已通过', 'Approved')
          : verdict === 'reject'
            ? tr(`已拒绝（${reasons.length} 项理由）`, `Rejected (${reasons.length} reasons)`)
            : item.awaitingConfirmation
              ? tr('已确认恶意上传，电子驾驶证已停止', 'Malicious confirmed; the licence is stopped')
              : tr('已举报为恶意上传，待第二位审核员复核', 'Reported malicious; a second reviewer must confirm');
      moveOn(notice('ok', `${what} · ${item.holder?.name ?? item.id}`));
    } catch (error) {
      busy = false;
      if (decidedElsewhere(error)) {
        sessionStorage.removeItem(draftKey(item.id));
        moveOn(
          notice(
            'warn',
            h('strong', null, tr('另一位审核员已先作出决定，已转到下一项。', 'Another reviewer decided first; moved on to the next item.')),
            h('p', null, `${error.title}: ${error.detail}`),
          ),
        );
      } else {
        const view = problemView(error);
        if (view) replace(result, view);
      }
    }
  };
  const approve = () => void decide('approve', [], '');
  const reject = () => {
    const reasons = chosen();
    if (reasons.length === 0) {
      replace(result, notice('warn', tr('请至少选择一项拒绝理由。', 'Choose at least one reason.')));
      numbers.focus();
      return;
    }
    void decide('reject', reasons, note.value.trim());
  };
  numbers.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      reject();
    } else if (event.key === 'Escape') {
      numbers.blur();
    }
  });

  const dialog = maliciousDialog(item.awaitingConfirmation, (text) => void decide('malicious', [], text));
  const photo = (url: string | undefined, label: string, kind: string) =>
    h(
      'figure',
      { class: 'photo' },
      url
        ? h('img', { src: url, alt: label, 'data-photo': kind, referrerpolicy: 'no-referrer' })
        : h('div', { class: 'no-photo' }, tr('无', 'None')),
      h('figcaption', null, label),
    );
  replace(
    box,
    h(
      'header',
      { class: 'item-head' },
      h('h2', null, item.holder?.name ?? tr('（无姓名）', '(no name)')),
      dueBadge(item.dueAt, item.overdue),
      item.resubmission ? h('span', { class: 'badge' }, tr('重新提交', 'Resubmitted')) : null,
    ),
    facts([
      [tr('性别', 'Sex'), item.holder ? word(SEX, item.holder.sex) : ''],
      [tr('出生日期', 'Birth date'), item.holder?.birthDate ?? ''],
      [tr('申请编号', 'Application'), item.id],
      [tr('来源', 'Source'), `${item.channel} · ${item.source}`],
      [tr('提交时间', 'Submitted'), dateTime(item.submittedAt)],
      [tr('审核期限', 'Due'), dateTime(item.dueAt)],
    ]),
    h(
      'div',
      { class: 'photos' },
      photo(item.photoUrl, tr('新照片', 'New photo'), 'new'),
      photo(item.previousPhotoUrl, tr('上一张照片（在档）', 'Previous photo (on file)'), 'previous'),
    ),
    item.maliciousReport &&
      notice(
        'warn',
        h('strong', null, tr('已被标记为恶意上传，待第二位审核员复核：', 'Reported malicious, awaiting a second reviewer: ')),
        `${item.maliciousReport.by.id} · ${dateTime(item.maliciousReport.at)} · ${item.maliciousReport.note}`,
        h('p', null, tr('再次标记为恶意即确认并停止其电子驾驶证；通过或拒绝则不予确认。', 'Marking it malicious again confirms it and stops the licence; approving or rejecting overrules the report.')),
      ),
    item.lastReview &&
      notice(
        'warn',
        tr('上次拒绝理由：', 'Last rejected for: '),
        item.lastReview.reasons.map((code) => label(code)).join('；'),
      ),
    h('h3', null, tr('自动检查', 'Automatic checks')),
    h(
      'ul',
      { class: 'checks' },
      item.checks.map((c) =>
        h('li', { class: c.passed ? 'pass' : 'fail' }, h('span', { 'aria-hidden': 'true' }, c.passed ? '✓ ' : '✗ '), h('code', null, c.code), ' ', c.message),
      ),
    ),
    h(
      'form',
      { class: 'decision', onsubmit: (e: Event) => e.preventDefault() },
      h(
        'div',
        { class: 'decision-buttons' },
        h('button', { type: 'button', class: 'approve', onclick: approve, 'aria-keyshortcuts': 'A' }, tr('通过 (A)', 'Approve (A)')),
        h('button', { type: 'button', class: 'reject', onclick: reject }, tr('拒绝', 'Reject')),
        h(
          'button',
          { type: 'button', class: 'malicious', onclick: () => dialog.showModal(), 'aria-keyshortcuts': 'M' },
          tr('标记恶意 (M)', 'Malicious (M)'),
        ),
      ),
      h('label', { class: 'numbers-label', for: 'reason-numbers' }, tr('拒绝理由编号 (R)', 'Reason numbers (R)')),
      numbers,
      h(
        'fieldset',
        { class: 'reasons' },
        h('legend', null, tr('拒绝理由（中文 / English / 代码）', 'Rejection reasons (Chinese / English / code)')),
        REJECTION_REASONS.map(([code, words], i) =>
          h(
            'label',
            { class: 'reason' },
            boxes[i] ?? null,
            h('span', { class: 'n' }, `${i + 1}`),
            h('span', { lang: 'zh-CN' }, words.zh),
            h('span', { lang: 'en' }, words.en),
            h('code', null, code),
          ),
        ),
      ),
      h('label', null, tr('备注（可选）', 'Note (optional)'), note),
      result,
    ),
    dialog,
    h('h3', null, tr('历史', 'History')),
    history(item.history),
  );
  return {
    approve,
    typeReason: (digit) => {
      numbers.focus();
      if (digit) {
        numbers.value = `${numbers.value}${numbers.value && !numbers.value.endsWith(' ') ? ' ' : ''}${digit}`;
        numbers.dispatchEvent(new Event('input'));
      }
    },
    malicious: () => dialog.showModal(),
  };
}

function label(code: string): string {
  const found = REJECTION_REASONS.find(([c]) => c === code);
  return found ? `${found[1].zh} / ${found[1].en}` : code;
}

/** Marking an upload malicious stops the holder's electronic licence (R15): it needs a note and a confirmation. */
/** `confirming`: a first reviewer already reported the upload, so this verdict confirms it (R15, four eyes). */
function maliciousDialog(confirming: boolean, confirm: (note: string) => void): HTMLDialogElement {
  const note = h('textarea', { required: true, rows: '3', maxlength: '1000', name: 'malicious-note' });
  const sure = h('input', { type: 'checkbox', required: true, name: 'malicious-confirm' });
  const dialog = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': 'malicious-title' },
    h(
      'form',
      {
        method: 'dialog',
        onsubmit: (event: Event) => {
          const submitter = (event as SubmitEvent).submitter;
          if (submitter instanceof HTMLButtonElement && submitter.value === 'confirm') {
            confirm(note.value.trim());
          }
        },
      },
      h('h2', { id: 'malicious-title' }, tr('标记为恶意上传', 'Mark as a malicious upload')),
      h(
        'p',
        null,
        confirming
          ? tr(
              '此操作确认另一位审核员的举报：结束该申请，并停止持证人的电子驾驶证（R15）。请说明原因。',
              'This confirms another reviewer’s report: it ends the application and stops the holder’s electronic licence (R15). Say why.',
            )
          : tr(
              '此操作举报该上传为恶意；经另一位审核员确认后，申请结束并停止持证人的电子驾驶证（R15）。请说明原因。',
              'This reports the upload as malicious; once a second reviewer confirms it, the application ends and the holder’s electronic licence is stopped (R15). Say why.',
            ),
      ),
      h('label', null, tr('原因（必填）', 'Reason (required)'), note),
      h('label', { class: 'inline' }, sure, tr('我确认这是恶意上传', 'I confirm this upload is malicious')),
      h(
        'div',
        { class: 'decision-buttons' },
        h('button', { value: 'cancel', formnovalidate: true }, tr('取消', 'Cancel')),
        h('button', { value: 'confirm', class: 'malicious' }, tr('确认标记', 'Mark malicious')),
      ),
    ),
  );
  return dialog;
}

function passItem(box: HTMLElement, pass: TruckPass, moveOn: (message: HTMLElement) => void): ItemActions {
  const result = h('div', { class: 'result' });
  const reason = h('input', {
    id: 'pass-reason',
    name: 'reason',
    autocomplete: 'off',
    placeholder: tr('拒绝时必填', 'required to reject'),
  });
  let busy = false;
  const decide = async (verdict: 'approve' | 'reject') => {
    if (busy) return;
    if (verdict === 'reject' && !reason.value.trim()) {
      replace(result, notice('warn', tr('拒绝需要说明理由。', 'A rejection needs a reason.')));
      reason.focus();
      return;
    }
    busy = true;
    try {
      await call('POST', `/truck/reviews/${encodeURIComponent(pass.id)}/decision`, {
        body: verdict === 'approve' ? { verdict } : { verdict, reason: reason.value.trim() },
      });
      moveOn(notice('ok', `${verdict === 'approve' ? tr('已通过并签发', 'Approved and signed') : tr('已拒绝', 'Rejected')} · ${pass.plate}`));
    } catch (error) {
      busy = false;
      if (decidedElsewhere(error)) {
        moveOn(
          notice(
            'warn',
            h('strong', null, tr('另一位审核员已先作出决定，已转到下一项。', 'Another reviewer decided first; moved on to the next item.')),
            h('p', null, `${error.title}: ${error.detail}`),
          ),
        );
      } else {
        const view = problemView(error);
        if (view) replace(result, view);
      }
    }
  };
  reason.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      void decide('reject');
    }
  });
  replace(
    box,
    h('header', { class: 'item-head' }, h('h2', null, pass.plate), dueBadge(pass.reviewDueAt, false)),
    passTerms(pass),
    h(
      'form',
      { class: 'decision', onsubmit: (e: Event) => e.preventDefault() },
      h(
        'div',
        { class: 'decision-buttons' },
        h('button', { type: 'button', class: 'approve', onclick: () => void decide('approve') }, tr('通过并签发 (A)', 'Approve and sign (A)')),
        h('button', { type: 'button', class: 'reject', onclick: () => void decide('reject') }, tr('拒绝', 'Reject')),
      ),
      h('label', { for: 'pass-reason' }, tr('拒绝理由 (R)', 'Reason to reject (R)')),
      reason,
      result,
    ),
    h('h3', null, tr('历史', 'History')),
    history(pass.history, PASS_STATES),
  );
  return {
    approve: () => void decide('approve'),
    typeReason: () => reason.focus(),
  };
}
