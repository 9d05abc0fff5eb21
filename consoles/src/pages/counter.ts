// The counter page (R12): a clerk applies for a holder of their office and follows the application to issuance.

import { ApiProblem, call, problemView, showProblem } from '../api';
import { dateTime, facts, h, loading, notice, replace } from '../dom';
import { APPLICATION_STATES, ELIGIBILITY_REFUSALS, tr, word } from '../i18n';
import type { Cleanup, PageContext } from '../main';
import type { Application } from '../types';
import { history } from './parts';

/** States after which nothing more happens to an application. */
const SETTLED = ['issued', 'rejected', 'withdrawn', 'expired', 'stopped'];

export async function counterPage({ root, path, session }: PageContext): Promise<Cleanup | void> {
  if (path[0] === 'applications' && path[1]) return followApplication(root, path[1]);
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  const number = h('input', {
    id: 'licence-number',
    name: 'licenceNumber',
    required: true,
    autocomplete: 'off',
    pattern: '[0-9]{17}[0-9Xx]',
    title: tr('18 位证号（身份证号）', 'the 18-character licence (identity) number'),
    value: path[0] ?? '',
  });
  const form = h(
    'form',
    {
      class: 'counter-form',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const licenceNumber = number.value.trim().toUpperCase();
        replace(result, loading());
        try {
          const application = await call<Application>('POST', '/applications', {
            body: { photoSource: 'on_file', licenceNumber },
          });
          location.hash = `#/counter/applications/${encodeURIComponent(application.id)}`;
        } catch (error) {
          replace(result, refusalView(error));
        }
      },
    },
    h('label', { for: 'licence-number' }, tr('驾驶证号', 'Licence number')),
    number,
    h('p', { class: 'hint' }, tr('持证人在窗口确认身份后，使用在档照片申请；本所签发的驾驶证方可办理。', 'With the holder in front of you, apply with the photo on file; only licences your office issued.')),
    h('button', { type: 'submit', class: 'primary' }, tr('窗口申请电子驾驶证', 'Apply at the counter')),
  );
  replace(
    root,
    h('h1', null, tr('窗口办理', 'Counter')),
    h('p', null, tr(`所属车管所：${session.claims.office ?? '—'}`, `Office: ${session.claims.office ?? '—'}`)),
    form,
    result,
  );
  number.focus();
}

/** Why the application was refused, every reason in words. */
function refusalView(error: unknown): HTMLElement {
  if (error instanceof ApiProblem && error.slug === 'ineligible') {
    const reasons = (error.body.reasons as { code: string; message: string }[] | undefined) ?? [];
    return notice(
      'error',
      h('strong', null, tr('不符合申领条件', 'Not eligible')),
      h(
        'ul',
        { class: 'refusals' },
        reasons.map((r) => h('li', { 'data-code': r.code }, h('strong', null, word(ELIGIBILITY_REFUSALS, r.code)), ` — ${r.message}`)),
      ),
    );
  }
  if (error instanceof ApiProblem && error.slug === 'open-application-exists' && typeof error.body.application === 'string') {
    return problemView(error, h('a', { href: `#/counter/applications/${encodeURIComponent(error.body.application)}` }, tr('查看进行中的申请', 'Open the application in progress'))) ?? h('span');
  }
  return problemView(error) ?? h('span');
}

async function followApplication(root: HTMLElement, id: string): Promise<Cleanup> {
  let timer: number | undefined;
  const body = h('div', null, loading());
  replace(root, h('h1', null, tr('窗口申请', 'Counter application')), body, h('p', null, h('a', { href: '#/counter' }, tr('办理下一位', 'Next holder'))));
  const show = async () => {
    try {
      const application = await call<Application>('GET', `/applications/${encodeURIComponent(id)}`);
      const settled = SETTLED.includes(application.state);
      replace(
        body,
        h(
          'p',
          { class: `state state-${application.state}`, 'data-state': application.state },
          word(APPLICATION_STATES, application.state),
        ),
        application.state === 'issued'
          ? notice('ok', tr('电子驾驶证已签发，将通过持证人的手机应用送达。', 'The electronic licence is issued and reaches the holder through the app.'))
          : null,
        facts([
          [tr('申请编号', 'Application'), application.id],
          [tr('驾驶证号', 'Licence number'), application.licenceNumber],
          [tr('渠道', 'Channel'), application.channel],
          [tr('照片', 'Photo'), application.photoSource],
          [tr('创建时间', 'Opened'), dateTime(application.createdAt)],
          [tr('更新时间', 'Updated'), dateTime(application.updatedAt)],
        ]),
        h('h2', null, tr('历史', 'History')),
        history(application.history),
        settled ? null : h('p', { class: 'hint', role: 'status' }, tr('正在等待签发，页面会自动刷新…', 'Waiting for issuance; this page refreshes itself…')),
      );
      // In AWS the issue function signs a moment after the approval: look again until it settles.
      if (!settled) timer = window.setTimeout(() => void show(), 2000);
    } catch (error) {
      showProblem(body, error);
    }
  };
  await show();
  return () => {
    if (timer) clearTimeout(timer);
  };
}
