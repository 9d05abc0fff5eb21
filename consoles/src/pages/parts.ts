// Pieces several consoles show: deadlines, histories, a truck pass's terms and a city's truck rules.

import { dateTime, facts, h, timeLeft } from '../dom';
import { APPLICATION_STATES, DAY_TYPES, PASS_STATES, ROLES, tr, word, type Words } from '../i18n';
import type { CityRules, HistoryEntry, TruckPass } from '../types';

/** The time left to a deadline, red once it has passed. */
export function dueBadge(dueAt: string | null | undefined, overdue: boolean): HTMLElement {
  if (!dueAt) return h('span', { class: 'badge' }, '—');
  const left = timeLeft(dueAt);
  return h(
    'span',
    { class: `badge ${overdue || left.overdue ? 'badge-red' : 'badge-ok'}`, title: dateTime(dueAt) },
    left.text,
  );
}

/** Who did what when, from which state to which. */
export function history(entries: HistoryEntry[], states: Record<string, Words> = APPLICATION_STATES): HTMLElement {
  return h(
    'ol',
    { class: 'history' },
    entries.map((e) =>
      h(
        'li',
        null,
        h('time', { datetime: e.at }, dateTime(e.at)),
        ' ',
        h('strong', null, e.action),
        ` · ${e.by ? `${word(ROLES, e.by.role)} ${e.by.id}` : tr('系统', 'the system')}`,
        e.to ? ` · ${e.from ? `${word(states, e.from)} → ` : ''}${word(states, e.to)}` : '',
        e.detail ? h('div', { class: 'detail' }, e.detail) : null,
      ),
    ),
  );
}

export function passState(pass: TruckPass): HTMLElement {
  const state = pass.status.state;
  const tone = state === 'active' ? 'badge-ok' : state === 'pending_review' ? '' : 'badge-red';
  return h('span', { class: `badge ${tone}`, 'data-state': state }, word(PASS_STATES, state));
}

/** A pass's terms as granted. */
export function passTerms(pass: TruckPass): HTMLElement {
  return facts([
    [tr('状态', 'Status'), [passState(pass), pass.status.reason ? ` ${pass.status.reason}` : '']],
    [tr('通行证编号', 'Serial'), pass.serial],
    [tr('号牌', 'Plate'), pass.plate],
    [tr('车辆类型', 'Vehicle type'), pass.vehicleType],
    [tr('排放标准', 'Emission'), pass.emission],
    [tr('城市', 'City'), pass.city],
    [tr('类型', 'Pass type'), pass.passType],
    [tr('区域', 'Zones'), pass.zones.join('、')],
    [tr('日期', 'Dates'), `${pass.validFrom} — ${pass.validTo}`],
    [tr('时段', 'Windows'), pass.windows.map((w) => `${w.from}–${w.to}`).join('，')],
    [tr('规则版本', 'Rules version'), String(pass.rulesVersion)],
    [tr('申请时间', 'Applied'), dateTime(pass.createdAt)],
    [tr('签发时间', 'Issued'), pass.issuedAt ? dateTime(pass.issuedAt) : ''],
  ]);
}

/** A city's truck rules in the form `GET /truck/cities/{city}` gives them. */
export function cityRulesView(rules: CityRules): HTMLElement {
  return h(
    'div',
    { class: 'city-rules', 'data-city': rules.city },
    facts([
      [tr('城市', 'City'), `${rules.name} (${rules.city})`],
      [tr('批次', 'Batch'), String(rules.batch)],
      [tr('规则版本', 'Rules version'), String(rules.rulesVersion)],
      [tr('最低排放标准', 'Minimum emission'), rules.emissionStandards.find((e) => e.code === rules.minEmission)?.name ?? rules.minEmission],
      [tr('最多时段', 'Most windows'), String(rules.maxWindows)],
    ]),
    h('h4', null, tr('限行区域', 'Restricted zones')),
    h('ul', null, rules.zones.map((z) => h('li', null, h('strong', null, z.name), ` (${z.id}) — ${z.description}`))),
    h('h4', null, tr('限行时段', 'Restricted hours')),
    h('ul', null, rules.restrictedHours.map((r) => h('li', null, `${word(DAY_TYPES, r.dayType)} ${r.from}–${r.to}`))),
    h('h4', null, tr('车辆类型', 'Vehicle types')),
    h(
      'ul',
      { class: 'chips' },
      rules.vehicleTypes.map((v) => h('li', { class: v.banned ? 'no' : 'yes' }, `${v.name}${v.banned ? tr('（禁止）', ' (banned)') : ''}`)),
    ),
    h('h4', null, tr('排放标准', 'Emission standards')),
    h(
      'ul',
      { class: 'chips' },
      rules.emissionStandards.map((e) => h('li', { class: e.accepted ? 'yes' : 'no' }, `${e.name}${e.accepted ? '' : tr('（不接受）', ' (not accepted)')}`)),
    ),
    h('h4', null, tr('通行证类型', 'Pass types')),
    h(
      'ul',
      null,
      rules.passTypes.map((p) =>
        h(
          'li',
          null,
          h('strong', null, p.name),
          ` (${p.id}) · ${tr(`最长 ${p.maxDays} 天`, `up to ${p.maxDays} days`)} · ${p.needsReview ? tr('需人工审核', 'reviewed by staff') : tr('即时签发', 'issued at once')} · ${p.allowOverlap ? tr('可重叠', 'may overlap') : tr('不可重叠', 'no overlap')}`,
        ),
      ),
    ),
  );
}
