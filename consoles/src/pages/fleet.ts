// The fleet page (R13): the fleet's passes, a city's rules, applying with every refusal next to its field, withdrawing, who checked.

import { ApiProblem, call, problemView, showProblem } from '../api';
import { add, beijingDate, dateTime, h, loading, notice, refresh, replace, tabs } from '../dom';
import { PASS_CHECK_REASONS, PASS_REFUSALS, PASS_STATES, tr, word } from '../i18n';
import type { Cleanup, PageContext } from '../main';
import type { CityRules, CitySummary, TruckPass } from '../types';
import { cityRulesView, history, passState, passTerms } from './parts';


interface PassCheck {
  id: string;
  at: string;
  organisation?: string;
  method: string;
  zone: string;
  moment: string;
  valid: boolean;
  allowed: boolean;
  reason: string;
}

let flash: HTMLElement | null = null;

export async function fleetPage({ root, path }: PageContext): Promise<Cleanup | void> {
  const section = path[0] ?? 'passes';
  const body = h('div', null, flash, loading());
  flash = null;
  replace(
    root,
    h('h1', null, tr('车队通行证', 'Fleet passes')),
    tabs([
      { href: '#/fleet/passes', label: tr('车辆与通行证', 'Vehicles and passes'), current: section === 'passes' },
      { href: '#/fleet/apply', label: tr('申请通行证', 'Apply'), current: section === 'apply' },
      { href: '#/fleet/rules', label: tr('城市规则', 'City rules'), current: section === 'rules' },
    ]),
    body,
  );
  try {
    if (section === 'apply') await applyForm(body, path[1]);
    else if (section === 'rules') await rules(body, path[1]);
    else if (path[1]) await passDetail(body, path[1]);
    else await passes(body);
  } catch (error) {
    showProblem(body, error);
  }
  body.querySelector('.loading')?.remove();
}

/** One page of the caller's passes, newest first (the API pages them: `limit` up to 100, then `next`). */
async function passPage(cursor?: string): Promise<{ passes: TruckPass[]; next?: string }> {
  return call<{ passes: TruckPass[]; next?: string }>('GET', `/truck/passes?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
}

async function passes(body: HTMLElement): Promise<void> {
  const first = await passPage();
  const shown: TruckPass[] = [...first.passes];
  let next = first.next;
  const view = h('div', null);
  const more = async () => {
    const page = await passPage(next);
    shown.push(...page.passes);
    next = page.next;
    render();
  };
  const render = () => {
    const plates = [...new Set(shown.map((p) => p.plate))].sort();
    replace(
      view,
      plates.length === 0
        ? h('p', { class: 'empty' }, tr('还没有通行证。', 'No passes yet.'), ' ', h('a', { href: '#/fleet/apply' }, tr('申请通行证', 'Apply for one')))
        : plates.map((plate) =>
            h(
              'section',
              { class: 'vehicle', 'data-plate': plate },
              h('h2', null, plate, ' ', h('a', { class: 'small', href: `#/fleet/apply/${encodeURIComponent(plate)}` }, tr('为此车申请', 'Apply for this vehicle'))),
              h(
                'table',
                { class: 'table' },
                h('thead', null, h('tr', null, [tr('城市', 'City'), tr('类型', 'Type'), tr('日期', 'Dates'), tr('区域', 'Zones'), tr('状态', 'Status'), ''].map((c) => h('th', null, c)))),
                h(
                  'tbody',
                  null,
                  shown
                    .filter((p) => p.plate === plate)
                    .map((p) =>
                      h(
                        'tr',
                        { 'data-pass': p.id },
                        h('td', null, p.city),
                        h('td', null, p.passType),
                        h('td', null, `${p.validFrom} — ${p.validTo}`),
                        h('td', null, p.zones.join('、')),
                        h('td', null, passState(p)),
                        h('td', null, h('a', { href: `#/fleet/passes/${encodeURIComponent(p.id)}` }, tr('详情', 'Details'))),
                      ),
                    ),
                ),
              ),
            ),
          ),
      next
        ? h('button', { type: 'button', class: 'quiet', 'data-action': 'more-passes', onclick: () => void more().catch((error) => showProblem(view, error)) }, tr('更早的通行证', 'Older passes'))
        : null,
    );
  };
  render();
  add(body, view);
}

async function passDetail(body: HTMLElement, id: string): Promise<void> {
  const [pass, checks] = await Promise.all([
    call<TruckPass>('GET', `/truck/passes/${encodeURIComponent(id)}`),
    call<{ checks: PassCheck[] }>('GET', `/truck/passes/${encodeURIComponent(id)}/checks`),
  ]);
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  const withdrawable = pass.status.state === 'pending_review' || pass.status.state === 'active';
  const confirmBox = h('div', { class: 'confirm-inline', hidden: true });
  const withdraw = async () => {
    try {
      await call('DELETE', `/truck/passes/${encodeURIComponent(id)}`);
      flash = notice('ok', tr(`已撤回 ${pass.plate} 的通行证，日期已释放。`, `Withdrew ${pass.plate}’s pass; its dates are free again.`));
      refresh();
    } catch (error) {
      showProblem(result, error);
    }
  };
  replace(
    confirmBox,
    tr('确认撤回此通行证？', 'Withdraw this pass?'),
    ' ',
    h('button', { type: 'button', class: 'reject', onclick: () => void withdraw() }, tr('确认撤回', 'Withdraw')),
    h('button', { type: 'button', class: 'quiet', onclick: () => (confirmBox.hidden = true) }, tr('取消', 'Cancel')),
  );
  add(body, 
    h('h2', null, `${pass.plate} · ${pass.serial}`),
    passTerms(pass),
    withdrawable ? h('button', { type: 'button', class: 'reject', onclick: () => (confirmBox.hidden = false) }, tr('撤回通行证', 'Withdraw the pass')) : null,
    confirmBox,
    result,
    h('h3', null, tr('核验记录（谁查验了此通行证）', 'Checks (who checked this pass)')),
    checks.checks.length === 0
      ? h('p', { class: 'empty' }, tr('尚无核验记录。', 'Nobody has checked it yet.'))
      : h(
          'table',
          { class: 'table checks-table' },
          h('thead', null, h('tr', null, [tr('时间', 'When'), tr('核验人', 'Checked by'), tr('区域', 'Zone'), tr('结果', 'Answer')].map((c) => h('th', null, c)))),
          h(
            'tbody',
            null,
            checks.checks.map((c) =>
              h(
                'tr',
                null,
                h('td', null, dateTime(c.at)),
                h('td', null, c.organisation ?? '—'),
                h('td', null, c.zone),
                h('td', { class: c.allowed ? 'yes' : 'no' }, `${c.allowed ? tr('允许', 'allowed') : tr('不允许', 'not allowed')} · ${word(PASS_CHECK_REASONS, c.reason)}`),
              ),
            ),
          ),
        ),
    h('h3', null, tr('历史', 'History')),
    history(pass.history, PASS_STATES),
  );
}

async function cityOptions(selected: string | undefined): Promise<HTMLSelectElement> {
  const list = await call<{ cities: CitySummary[] }>('GET', '/truck/cities');
  return h(
    'select',
    { id: 'city', name: 'city', required: true },
    h('option', { value: '' }, tr('选择城市', 'Choose a city')),
    list.cities.map((c) =>
      h('option', { value: c.city, selected: c.city === selected }, `${c.name} (${c.city})${c.availability.status === 'live' ? '' : tr(' · 未开通', ' · not live')}`),
    ),
  );
}

async function rules(body: HTMLElement, city: string | undefined): Promise<void> {
  const select = await cityOptions(city);
  select.addEventListener('change', () => (location.hash = `#/fleet/rules/${encodeURIComponent(select.value)}`));
  add(body, h('label', { for: 'city' }, tr('城市', 'City')), select);
  if (city) add(body, cityRulesView(await call<CityRules>('GET', `/truck/cities/${encodeURIComponent(city)}`)));
}

/** Which field each refusal concerns, so that it is shown next to it. */
const FIELD_OF: Record<string, string> = {
  'plate-invalid': 'plate',
  'vehicle-type-banned': 'plate',
  'emission-below-minimum': 'plate',
  'vehicle-mismatch': 'plate',
  'not-your-vehicle': 'plate',
  'city-not-live': 'city',
  'unknown-pass-type': 'passType',
  'no-zone': 'zones',
  'unknown-zone': 'zones',
  'dates-invalid': 'dates',
  'too-long': 'dates',
  'overlapping-pass': 'dates',
  'no-window': 'windows',
  'too-many-windows': 'windows',
  'window-invalid': 'windows',
};

async function applyForm(body: HTMLElement, plate: string | undefined): Promise<void> {
  // The plates of the newest passes, as suggestions.
  const known = await passPage();
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  const errors: Record<string, HTMLElement> = {};
  const slot = (field: string) => (errors[field] = h('ul', { class: 'field-error', id: `error-${field}`, 'data-field': field }));
  const plateInput = h('input', { id: 'plate', name: 'plate', required: true, list: 'plates', autocomplete: 'off', value: plate ?? '', 'aria-describedby': 'error-plate' });
  const city = await cityOptions(undefined);
  city.setAttribute('aria-describedby', 'error-city');
  const passType = h('select', { id: 'passType', name: 'passType', required: true, 'aria-describedby': 'error-passType' });
  const zones = h('div', { class: 'zones', id: 'zones', role: 'group', 'aria-describedby': 'error-zones' });
  const validFrom = h('input', { id: 'validFrom', type: 'date', required: true, value: beijingDate(0), 'aria-describedby': 'error-dates' });
  const validTo = h('input', { id: 'validTo', type: 'date', required: true, value: beijingDate(2), 'aria-describedby': 'error-dates' });
  const windowRow = (from = '09:00', to = '16:00') =>
    h(
      'div',
      { class: 'row', 'data-row': 'window' },
      h('input', { name: 'from', value: from, pattern: '[0-2][0-9]:[0-5][0-9]', 'aria-label': tr('开始', 'From'), required: true }),
      '–',
      h('input', { name: 'to', value: to, pattern: '[0-2][0-9]:[0-5][0-9]', 'aria-label': tr('结束', 'To'), required: true }),
      h('button', { type: 'button', class: 'quiet', 'aria-label': tr('删除此时段', 'Remove this window'), onclick: (e: Event) => (e.target as HTMLElement).parentElement?.remove() }, '✕'),
    );
  const windows = h('div', { class: 'rows', id: 'windows', 'aria-describedby': 'error-windows' }, windowRow());
  const loadRules = async () => {
    replace(passType);
    replace(zones);
    if (!city.value) return;
    try {
      const rules = await call<CityRules>('GET', `/truck/cities/${encodeURIComponent(city.value)}`);
      replace(passType, rules.passTypes.map((p) => h('option', { value: p.id }, `${p.name} (${tr(`最长 ${p.maxDays} 天`, `up to ${p.maxDays} days`)}${p.needsReview ? tr('，需审核', ', reviewed') : ''})`)));
      replace(zones, rules.zones.map((z) => h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'zones', value: z.id }), `${z.name} (${z.id})`)));
    } catch (error) {
      showProblem(result, error);
    }
  };
  city.addEventListener('change', () => void loadRules());

  const clearErrors = () => {
    Object.values(errors).forEach((e) => replace(e));
    body.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
  };
  const showAt = (field: string, code: string, message: string) => {
    const target = errors[field] ?? errors.form;
    target?.append(h('li', { 'data-code': code }, h('strong', null, word(PASS_REFUSALS, code)), ` — ${message}`));
    body.querySelector(`[aria-describedby="error-${field}"]`)?.setAttribute('aria-invalid', 'true');
  };
  const form = h(
    'form',
    {
      class: 'apply-form',
      novalidate: true,
      onsubmit: async (event: Event) => {
        event.preventDefault();
        clearErrors();
        replace(result);
        const request = {
          plate: plateInput.value.trim(),
          city: city.value,
          passType: passType.value,
          zones: [...zones.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value),
          validFrom: validFrom.value,
          validTo: validTo.value,
          windows: [...windows.querySelectorAll<HTMLElement>('[data-row="window"]')].map((row) => ({
            from: row.querySelector<HTMLInputElement>('[name="from"]')?.value.trim() ?? '',
            to: row.querySelector<HTMLInputElement>('[name="to"]')?.value.trim() ?? '',
          })),
        };
        try {
          const pass = await call<TruckPass>('POST', '/truck/passes', { body: request });
          flash = notice(
            'ok',
            pass.status.state === 'active'
              ? tr('通行证已签发，立即生效。', 'The pass is signed and active.')
              : tr('已提交，等待工作人员审核。', 'Submitted; it waits for staff review.'),
          );
          location.hash = `#/fleet/passes/${encodeURIComponent(pass.id)}`;
        } catch (error) {
          if (!(error instanceof ApiProblem)) return showProblem(result, error);
          const reasons = (error.body.reasons as { code: string; message: string }[] | undefined) ?? [];
          const fieldErrors = (error.body.errors as { field: string; message: string }[] | undefined) ?? [];
          if (error.slug === 'pass-refused' && reasons.length > 0) {
            reasons.forEach((r) => showAt(FIELD_OF[r.code] ?? 'form', r.code, r.message));
            replace(result, notice('error', h('strong', null, error.title), tr('：请按各项下方的说明修改。', ': see what each field says.')));
          } else if (error.slug === 'not-your-vehicle') {
            showAt('plate', 'not-your-vehicle', error.detail);
            replace(result, problemView(error) ?? '');
          } else if (fieldErrors.length > 0) {
            fieldErrors.forEach((e) => showAt(e.field in errors ? e.field : 'form', e.field, e.message));
            replace(result, problemView(error) ?? '');
          } else {
            showProblem(result, error);
          }
        }
      },
    },
    h('datalist', { id: 'plates' }, [...new Set(known.passes.map((p) => p.plate))].map((p) => h('option', { value: p }))),
    h('label', { for: 'plate' }, tr('号牌', 'Plate')),
    plateInput,
    slot('plate'),
    h('label', { for: 'city' }, tr('城市', 'City')),
    city,
    slot('city'),
    h('label', { for: 'passType' }, tr('通行证类型', 'Pass type')),
    passType,
    slot('passType'),
    h('fieldset', null, h('legend', null, tr('区域', 'Zones')), zones),
    slot('zones'),
    h('fieldset', { class: 'dates' }, h('legend', null, tr('日期', 'Dates')), h('label', null, tr('起', 'From'), validFrom), h('label', null, tr('止', 'To'), validTo)),
    slot('dates'),
    h(
      'fieldset',
      null,
      h('legend', null, tr('每日时段（跨零点请拆为两段，一段止于 24:00）', 'Daily windows (split one crossing midnight, ending at 24:00)')),
      windows,
      h('button', { type: 'button', class: 'quiet', onclick: () => add(windows, windowRow()) }, tr('添加时段', 'Add a window')),
    ),
    slot('windows'),
    slot('form'),
    h('button', { type: 'submit', class: 'primary' }, tr('提交申请', 'Apply')),
    result,
  );
  add(body, form);
}
