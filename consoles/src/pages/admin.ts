// The administrator console (R2, R7, R13): rollout switches, licence records and changes, truck rules.

import { ApiProblem, call, problemView, showProblem } from '../api';
import { add, beijingToRfc3339, dateTime, facts, h, loading, notice, refresh, replace, tabs } from '../dom';
import { AVAILABILITY, DAY_TYPES, ELIGIBILITY_REFUSALS, LICENCE_STATES, ROLES, SEX, tr, word } from '../i18n';
import type { Cleanup, PageContext } from '../main';
import type { Availability, CityRules, CitySummary, Licence, PassType, Refusal, RestrictedHours, Zone } from '../types';
import { cityRulesView } from './parts';

interface Wave {
  id: string;
  batch: number;
  description: string;
  goLiveAt: string | null;
  version: number;
}

interface City {
  code: string;
  name: string;
  province: string;
  batch: number;
  wave: string;
  goLiveAt: string | null;
  availability: Availability;
}

interface RolloutChange {
  target: string;
  at: string;
  by: { id: string; role: string };
  goLiveBefore: string | null;
  goLiveAfter: string | null;
}

interface Rollout {
  at: string;
  waves: Wave[];
  cities: City[];
  changes: RolloutChange[];
}

interface LicenceRecord {
  licence: Licence;
  refusals: Refusal[];
  changes: { at: string; by: { id: string; role: string }; reason: string; changed: string[]; version: number }[];
}

interface StoredRules {
  city: string;
  name: string;
  zones: Zone[];
  restrictedHours: RestrictedHours[];
  bannedVehicleTypes: string[];
  minEmission: string;
  passTypes: PassType[];
  rulesVersion: number;
}

interface TruckCityRecord {
  rules: StoredRules;
  availability: Availability;
  changes: {
    at: string;
    by: { id: string; role: string };
    what: string;
    rulesVersionBefore: number;
    rulesVersionAfter: number;
    goLiveBefore: string | null;
    goLiveAfter: string | null;
    reason: string;
  }[];
}

let flash: HTMLElement | null = null;

export async function adminPage({ root, path }: PageContext): Promise<Cleanup | void> {
  const section = path[0] ?? 'rollout';
  const body = h('div', { class: 'admin-body' }, flash, loading());
  flash = null;
  replace(
    root,
    h('h1', null, tr('管理控制台', 'Administration')),
    tabs([
      { href: '#/admin/rollout', label: tr('开通批次与城市', 'Rollout'), current: section === 'rollout' },
      { href: '#/admin/licences', label: tr('驾驶证档案', 'Licences'), current: section === 'licences' },
      { href: '#/admin/truck', label: tr('货车通行规则', 'Truck rules'), current: section === 'truck' },
    ]),
    body,
  );
  try {
    if (section === 'licences') await licences(body, path[1]);
    else if (section === 'truck') await truckRules(body, path[1]);
    else await rollout(body);
  } catch (error) {
    showProblem(body, error);
  }
}

/** Shows the page again, read afresh, with a message on top. */
function reload(message: HTMLElement): void {
  flash = message;
  refresh();
}

// --- Rollout (R2) --------------------------------------------------------------------------------

function availabilityOf(goLiveAt: string | null, now: string): Availability {
  if (!goLiveAt) return { status: 'not_scheduled' };
  return goLiveAt <= now ? { status: 'live', since: goLiveAt } : { status: 'scheduled', opensAt: goLiveAt };
}

function availabilityBadge(availability: Availability): HTMLElement {
  const tone = availability.status === 'live' ? 'badge-ok' : availability.status === 'scheduled' ? '' : 'badge-red';
  const when = availability.since ?? availability.opensAt;
  return h(
    'span',
    { class: `badge ${tone}`, 'data-status': availability.status },
    word(AVAILABILITY, availability.status),
    when ? ` · ${dateTime(when)}` : '',
  );
}

/** Switch on now, at a time, or take the time back; `path` is the PUT's path. */
function switchControls(path: string, label: string, goLiveAt: string | null, result: HTMLElement): HTMLElement {
  const at = h('input', { type: 'datetime-local', 'aria-label': tr(`${label} 开通时间（北京时间）`, `${label} go-live time (Beijing)`) });
  const put = async (value: string | null, what: string) => {
    try {
      await call('PUT', path, { body: { goLiveAt: value } });
      reload(notice('ok', `${label}：${what}`));
    } catch (error) {
      showProblem(result, error);
    }
  };
  return h(
    'div',
    { class: 'switch' },
    h('button', { type: 'button', class: 'primary', onclick: () => void put('now', tr('已立即开通', 'switched on now')) }, tr('立即开通', 'Switch on now')),
    at,
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          if (!at.value) {
            replace(result, notice('warn', tr('请先选择开通时间。', 'Choose a time first.')));
            return;
          }
          void put(beijingToRfc3339(at.value), tr(`定时于 ${at.value} 开通`, `scheduled for ${at.value}`));
        },
      },
      tr('定时开通', 'Schedule'),
    ),
    goLiveAt
      ? h('button', { type: 'button', class: 'quiet', onclick: () => void put(null, tr('已取消开通', 'switched off')) }, tr('取消开通', 'Switch off'))
      : null,
  );
}

async function rollout(body: HTMLElement): Promise<void> {
  const data = await call<Rollout>('GET', '/admin/rollout');
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  const filter = h('input', { type: 'search', placeholder: tr('按城市名或代码筛选', 'Filter by city name or code'), 'aria-label': tr('筛选城市', 'Filter cities') });
  const waveFilter = h(
    'select',
    { 'aria-label': tr('按批次筛选', 'Filter by wave') },
    h('option', { value: '' }, tr('全部批次', 'All waves')),
    data.waves.map((w) => h('option', { value: w.id }, w.id)),
  );
  const rows = data.cities.map((city) =>
    h(
      'tr',
      { 'data-city': city.code, 'data-wave': city.wave, 'data-search': `${city.code} ${city.name} ${city.province}` },
      h('td', null, city.code),
      h('td', null, `${city.province}${city.name}`),
      h('td', null, city.wave),
      h('td', null, availabilityBadge(city.availability)),
      h('td', null, city.goLiveAt ? dateTime(city.goLiveAt) : tr('随批次', 'with its wave')),
      h('td', null, switchControls(`/admin/rollout/cities/${encodeURIComponent(city.code)}`, city.name, city.goLiveAt, result)),
    ),
  );
  const applyFilter = () => {
    const text = filter.value.trim();
    for (const row of rows) {
      const shown = (!text || (row.dataset.search ?? '').includes(text)) && (!waveFilter.value || row.dataset.wave === waveFilter.value);
      row.hidden = !shown;
    }
  };
  filter.addEventListener('input', applyFilter);
  waveFilter.addEventListener('change', applyFilter);
  add(body, 
    result,
    h('h2', null, tr('批次', 'Waves')),
    h(
      'table',
      { class: 'table' },
      h('thead', null, h('tr', null, [tr('批次', 'Wave'), tr('说明', 'Description'), tr('状态', 'Now'), tr('开通时间', 'Go-live'), ''].map((c) => h('th', null, c)))),
      h(
        'tbody',
        null,
        data.waves.map((wave) =>
          h(
            'tr',
            { 'data-wave': wave.id },
            h('td', null, h('strong', null, wave.id), ` (${tr('第', 'batch ')}${wave.batch}${tr(' 批', '')})`),
            h('td', null, wave.description),
            h('td', null, availabilityBadge(availabilityOf(wave.goLiveAt, data.at))),
            h('td', null, wave.goLiveAt ? dateTime(wave.goLiveAt) : tr('未定', 'not set')),
            h('td', null, switchControls(`/admin/rollout/waves/${encodeURIComponent(wave.id)}`, tr(`批次 ${wave.id}`, `wave ${wave.id}`), wave.goLiveAt, result)),
          ),
        ),
      ),
    ),
    h('h2', null, tr('城市', 'Cities')),
    h('div', { class: 'filters' }, filter, waveFilter),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'table' },
        h('thead', null, h('tr', null, [tr('代码', 'Code'), tr('城市', 'City'), tr('批次', 'Wave'), tr('当前', 'Now'), tr('单独开通时间', 'Own go-live'), ''].map((c) => h('th', null, c)))),
        h('tbody', null, rows),
      ),
    ),
    h('h2', null, tr('开关记录', 'Switch history')),
    data.changes.length === 0
      ? h('p', { class: 'empty' }, tr('暂无记录。', 'No switches yet.'))
      : h(
          'ol',
          { class: 'history' },
          [...data.changes]
            .sort((a, b) => b.at.localeCompare(a.at))
            .map((c) =>
              h(
                'li',
                null,
                h('time', { datetime: c.at }, dateTime(c.at)),
                ' ',
                h('strong', null, c.target),
                ` · ${word(ROLES, c.by.role)} ${c.by.id} · ${c.goLiveBefore ? dateTime(c.goLiveBefore) : tr('未定', 'not set')} → ${c.goLiveAfter ? dateTime(c.goLiveAfter) : tr('未定', 'not set')}`,
              ),
            ),
        ),
  );
  body.querySelector('.loading')?.remove();
}

// --- Licence records and changes (R1, R7) --------------------------------------------------------

async function licences(body: HTMLElement, number: string | undefined): Promise<void> {
  body.querySelector('.loading')?.remove();
  const input = h('input', { id: 'admin-licence', required: true, autocomplete: 'off', value: number ?? '' });
  add(body, 
    h(
      'form',
      {
        class: 'inline-form',
        onsubmit: (event: Event) => {
          event.preventDefault();
          location.hash = `#/admin/licences/${encodeURIComponent(input.value.trim().toUpperCase())}`;
        },
      },
      h('label', { for: 'admin-licence' }, tr('驾驶证号', 'Licence number')),
      input,
      h('button', { type: 'submit', class: 'primary' }, tr('查询', 'Look up')),
    ),
  );
  if (!number) {
    input.focus();
    return;
  }
  const record = await call<LicenceRecord>('GET', `/admin/licences/${encodeURIComponent(number)}`);
  const l = record.licence;
  add(body, 
    h('h2', null, `${l.name} · ${l.number}`),
    facts([
      [tr('性别', 'Sex'), word(SEX, l.sex)],
      [tr('出生日期', 'Birth date'), l.birthDate],
      [tr('住址', 'Address'), l.address],
      [tr('准驾车型', 'Classes'), l.classes.join(' ')],
      [tr('有效期', 'Validity'), `${l.validFrom} — ${l.validTo}`],
      [tr('发证机关', 'Issuing authority'), `${l.issuingAuthority.name} (${l.issuingAuthority.code})`],
      [tr('档案编号', 'Archive number'), l.archiveNumber],
      [tr('累积记分', 'Points'), String(l.points)],
      [tr('状态', 'States'), l.states.length ? l.states.map((s) => word(LICENCE_STATES, s)).join('、') : tr('正常', 'normal')],
      [tr('在档照片', 'Photo on file'), l.photoOnFile ? tr('有', 'yes') : tr('无', 'no')],
      [tr('版本', 'Version'), String(l.version)],
    ]),
    h('h3', null, tr('申领资格（今日）', 'Eligibility today')),
    record.refusals.length === 0
      ? notice('ok', tr('符合申领电子驾驶证的条件。', 'Eligible for an electronic licence.'))
      : notice(
          'error',
          h('ul', { class: 'refusals' }, record.refusals.map((r) => h('li', { 'data-code': r.code }, h('strong', null, word(ELIGIBILITY_REFUSALS, r.code)), ` — ${r.message}`))),
        ),
    h('h3', null, tr('登记变更', 'Record a change')),
    changeForm(l),
    h('h3', null, tr('变更历史', 'Change history')),
    record.changes.length === 0
      ? h('p', { class: 'empty' }, tr('暂无变更。', 'No changes yet.'))
      : h(
          'ol',
          { class: 'history' },
          record.changes.map((c) =>
            h('li', null, h('time', { datetime: c.at }, dateTime(c.at)), ` v${c.version} · ${c.changed.join(', ')} · ${c.reason} · ${word(ROLES, c.by.role)} ${c.by.id}`),
          ),
        ),
  );
}

function changeForm(l: Licence): HTMLFormElement {
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  const points = h('input', { name: 'points', type: 'number', min: '0', max: '255', value: String(l.points), inputmode: 'numeric' });
  const states = Object.entries(LICENCE_STATES).map(([code]) =>
    h('input', { type: 'checkbox', name: 'states', value: code, checked: l.states.includes(code) }),
  );
  const photo = h('input', { type: 'checkbox', name: 'photoOnFile', checked: l.photoOnFile });
  const renew = h('input', { type: 'checkbox', name: 'renew' });
  const validFrom = h('input', { type: 'date', name: 'validFrom', value: l.validFrom });
  const validTo = h('input', { type: 'date', name: 'validTo', value: l.validTo });
  const classes = h('input', { name: 'classes', value: l.classes.join(' '), autocomplete: 'off' });
  const reason = h('input', { name: 'reason', required: true, autocomplete: 'off' });
  const form = h(
    'form',
    {
      class: 'change-form',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const change: Record<string, unknown> = { reason: reason.value.trim(), expectedVersion: l.version };
        if (Number(points.value) !== l.points) change.points = Number(points.value);
        const chosen = states.filter((s) => s.checked).map((s) => s.value);
        if (chosen.length !== l.states.length || chosen.some((s) => !l.states.includes(s))) change.states = chosen;
        if (photo.checked !== l.photoOnFile) change.photoOnFile = photo.checked;
        if (renew.checked) {
          change.renewal = {
            validFrom: validFrom.value || undefined,
            validTo: validTo.value,
            classes: classes.value.split(/[\s,，]+/).filter(Boolean),
          };
        }
        if (Object.keys(change).length === 2) {
          replace(result, notice('warn', tr('没有需要登记的变更。', 'Nothing has changed.')));
          return;
        }
        try {
          await call('PATCH', `/admin/licences/${encodeURIComponent(l.number)}`, { body: change });
          reload(notice('ok', tr('变更已登记。', 'The change is recorded.')));
        } catch (error) {
          if (error instanceof ApiProblem && error.slug === 'conflict') {
            replace(result, problemView(error, h('p', null, tr('记录已被他人修改，请刷新后重试。', 'Someone changed the record meanwhile; reload and try again.'))) ?? '');
          } else {
            showProblem(result, error);
          }
        }
      },
    },
    h('label', null, tr('累积记分', 'Points'), points),
    h(
      'fieldset',
      null,
      h('legend', null, tr('驾驶证状态', 'Licence states')),
      Object.entries(LICENCE_STATES).map(([, words], i) => h('label', { class: 'inline' }, states[i] ?? null, words.zh, ' / ', words.en)),
    ),
    h('label', { class: 'inline' }, photo, tr('有在档合规照片', 'A compliant photo is on file')),
    h(
      'fieldset',
      null,
      h('legend', null, h('label', { class: 'inline' }, renew, tr('换证（有效期、准驾车型）', 'Renewal (validity, classes)'))),
      h('label', null, tr('有效期起', 'Valid from'), validFrom),
      h('label', null, tr('有效期至', 'Valid to'), validTo),
      h('label', null, tr('准驾车型（空格分隔）', 'Classes (space separated)'), classes),
    ),
    h('label', null, tr('变更原因（必填）', 'Reason (required)'), reason),
    h('button', { type: 'submit', class: 'primary' }, tr('登记变更', 'Record the change')),
    result,
  );
  return form;
}

// --- Truck rules of a city (R13) -----------------------------------------------------------------

async function truckRules(body: HTMLElement, city: string | undefined): Promise<void> {
  const list = await call<{ cities: CitySummary[] }>('GET', '/truck/cities');
  body.querySelector('.loading')?.remove();
  const select = h(
    'select',
    {
      id: 'truck-city',
      onchange: (event: Event) => {
        location.hash = `#/admin/truck/${encodeURIComponent((event.target as HTMLSelectElement).value)}`;
      },
    },
    h('option', { value: '' }, tr('选择城市', 'Choose a city')),
    list.cities.map((c) => h('option', { value: c.city, selected: c.city === city }, `${c.name} (${c.city}) · v${c.rulesVersion}`)),
  );
  add(body, h('label', { for: 'truck-city' }, tr('城市', 'City')), select);
  if (!city) return;
  const [record, published] = await Promise.all([
    call<TruckCityRecord>('GET', `/admin/truck/cities/${encodeURIComponent(city)}`),
    call<CityRules>('GET', `/truck/cities/${encodeURIComponent(city)}`),
  ]);
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  add(body, 
    h('h2', null, `${record.rules.name} · ${tr('规则版本', 'rules version')} ${record.rules.rulesVersion}`),
    h('p', null, tr('电子通行证：', 'Electronic pass: '), availabilityBadge(record.availability)),
    switchControls(`/admin/truck/rollout/cities/${encodeURIComponent(city)}`, record.rules.name, record.availability.status === 'not_scheduled' ? null : 'set', result),
    result,
    h('details', null, h('summary', null, tr('当前对外公布的规则', 'The rules as published')), cityRulesView(published)),
    h('h3', null, tr('修改规则', 'Change the rules')),
    rulesForm(record.rules, published),
    h('h3', null, tr('修改历史', 'Change history')),
    record.changes.length === 0
      ? h('p', { class: 'empty' }, tr('暂无修改。', 'No changes yet.'))
      : h(
          'ol',
          { class: 'history' },
          [...record.changes]
            .sort((a, b) => b.at.localeCompare(a.at))
            .map((c) =>
              h(
                'li',
                null,
                h('time', { datetime: c.at }, dateTime(c.at)),
                c.what === 'rules'
                  ? ` v${c.rulesVersionBefore} → v${c.rulesVersionAfter}`
                  : ` ${tr('开通时间', 'go-live')} ${dateTime(c.goLiveBefore)} → ${dateTime(c.goLiveAfter)}`,
                ` · ${c.reason} · ${word(ROLES, c.by.role)} ${c.by.id}`,
              ),
            ),
        ),
  );
}

/** Rows of inputs that can grow and shrink. */
function rows<T>(items: T[], make: (item: T | null) => HTMLElement, label: string): { element: HTMLElement; list: HTMLElement } {
  const list = h('div', { class: 'rows' }, items.map((item) => withRemove(make(item))));
  const element = h(
    'div',
    null,
    list,
    h('button', { type: 'button', class: 'quiet', onclick: () => list.append(withRemove(make(null))) }, tr(`添加${label}`, `Add ${label}`)),
  );
  return { element, list };
}

function withRemove(row: HTMLElement): HTMLElement {
  row.append(h('button', { type: 'button', class: 'quiet', 'aria-label': tr('删除此行', 'Remove this row'), onclick: () => row.remove() }, '✕'));
  return row;
}

function rulesForm(rules: StoredRules, published: CityRules): HTMLFormElement {
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  const zones = rows(
    rules.zones,
    (z) =>
      h(
        'div',
        { class: 'row', 'data-row': 'zone' },
        h('input', { name: 'id', value: z?.id ?? '', required: true, 'aria-label': tr('区域代码', 'Zone id'), placeholder: 'ring-5' }),
        h('input', { name: 'name', value: z?.name ?? '', required: true, 'aria-label': tr('区域名称', 'Zone name') }),
        h('input', { name: 'description', value: z?.description ?? '', 'aria-label': tr('说明', 'Description') }),
      ),
    tr('区域', 'a zone'),
  );
  const hours = rows(
    rules.restrictedHours,
    (r) =>
      h(
        'div',
        { class: 'row', 'data-row': 'hours' },
        h(
          'select',
          { name: 'dayType', 'aria-label': tr('日期类型', 'Day type') },
          Object.entries(DAY_TYPES).map(([code, words]) => h('option', { value: code, selected: r?.dayType === code }, words.zh, ' / ', words.en)),
        ),
        h('input', { name: 'from', value: r?.from ?? '06:00', pattern: '[0-2][0-9]:[0-5][0-9]', 'aria-label': tr('开始', 'From') }),
        h('input', { name: 'to', value: r?.to ?? '23:00', pattern: '[0-2][0-9]:[0-5][0-9]', 'aria-label': tr('结束', 'To') }),
      ),
    tr('时段', 'hours'),
  );
  const banned = published.vehicleTypes.map((v) =>
    h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'banned', value: v.code, checked: rules.bannedVehicleTypes.includes(v.code) }), v.name),
  );
  const minEmission = h(
    'select',
    { name: 'minEmission' },
    published.emissionStandards.map((e) => h('option', { value: e.code, selected: e.code === rules.minEmission }, e.name)),
  );
  const passTypes = rows(
    rules.passTypes,
    (p) =>
      h(
        'div',
        { class: 'row', 'data-row': 'passType' },
        h('input', { name: 'id', value: p?.id ?? '', required: true, 'aria-label': tr('类型代码', 'Type id') }),
        h('input', { name: 'name', value: p?.name ?? '', required: true, 'aria-label': tr('类型名称', 'Type name') }),
        h('input', { name: 'maxDays', type: 'number', min: '1', value: String(p?.maxDays ?? 7), 'aria-label': tr('最长天数', 'Most days') }),
        h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'needsReview', checked: p?.needsReview ?? false }), tr('需审核', 'reviewed')),
        h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'allowOverlap', checked: p?.allowOverlap ?? false }), tr('可重叠', 'overlap')),
      ),
    tr('通行证类型', 'a pass type'),
  );
  const reason = h('input', { name: 'reason', required: true, autocomplete: 'off' });
  const read = (list: HTMLElement, kind: string) =>
    [...list.querySelectorAll<HTMLElement>(`[data-row="${kind}"]`)].map((row) => {
      const value = (name: string) => row.querySelector<HTMLInputElement>(`[name="${name}"]`);
      return { value: (name: string) => value(name)?.value.trim() ?? '', checked: (name: string) => value(name)?.checked ?? false };
    });
  return h(
    'form',
    {
      class: 'rules-form',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const terms = {
          zones: read(zones.list, 'zone').map((r) => ({ id: r.value('id'), name: r.value('name'), description: r.value('description') })),
          restrictedHours: read(hours.list, 'hours').map((r) => ({ dayType: r.value('dayType'), from: r.value('from'), to: r.value('to') })),
          bannedVehicleTypes: banned.map((l) => l.querySelector('input')).filter((i): i is HTMLInputElement => !!i?.checked).map((i) => i.value),
          minEmission: minEmission.value,
          passTypes: read(passTypes.list, 'passType').map((r) => ({
            id: r.value('id'),
            name: r.value('name'),
            maxDays: Number(r.value('maxDays')),
            needsReview: r.checked('needsReview'),
            allowOverlap: r.checked('allowOverlap'),
          })),
          expectedRulesVersion: rules.rulesVersion,
          reason: reason.value.trim(),
        };
        try {
          await call('PUT', `/admin/truck/cities/${encodeURIComponent(rules.city)}`, { body: terms });
          reload(notice('ok', tr('规则已更新；已签发的通行证保持原条件。', 'The rules are changed; issued passes keep their terms.')));
        } catch (error) {
          showProblem(result, error);
        }
      },
    },
    h('fieldset', null, h('legend', null, tr('限行区域', 'Restricted zones')), zones.element),
    h('fieldset', null, h('legend', null, tr('限行时段', 'Restricted hours')), hours.element),
    h('fieldset', null, h('legend', null, tr('禁止通行的车辆类型', 'Banned vehicle types')), banned),
    h('label', null, tr('最低排放标准', 'Minimum emission'), minEmission),
    h('fieldset', null, h('legend', null, tr('通行证类型', 'Pass types')), passTypes.element),
    h('label', null, tr('修改原因（必填）', 'Reason (required)'), reason),
    h('button', { type: 'submit', class: 'primary' }, tr('保存新规则', 'Save the new rules')),
    result,
  );
}

