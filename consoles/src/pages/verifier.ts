// The verifier page (R9, R13): scan, paste or type what the holder shows, and see the answer at a glance.

import { call, problemView } from '../api';
import { beijingToRfc3339, dateTime, facts, h, notice, replace, tabs, type Child } from '../dom';
import { DISCLOSED_FIELDS, LICENCE_STATES, PASS_CHECK_REASONS, PURPOSES, SEX, tr, VERIFICATION_REASONS, word } from '../i18n';
import type { Cleanup, PageContext } from '../main';
import { startScanner, type Scanner } from '../scanner';
import type { CityRules, CitySummary, TruckPass } from '../types';
import { passTerms } from './parts';

interface LicenceAnswer {
  valid: boolean;
  colour?: string;
  reason?: string;
  detail?: string;
  method: string;
  purpose: string;
  serial?: string;
  disclosed: Record<string, unknown>;
  checkedAt: string;
  liveStateAt?: string;
  checkId: string;
}

interface PassAnswer {
  valid: boolean;
  allowed: boolean;
  reason: string;
  detail: string;
  serial?: string;
  pass?: TruckPass;
  zone: string;
  moment: string;
  checkedAt: string;
  checkId: string;
}

const CLASSES = ['A1', 'A2', 'A3', 'B1', 'B2', 'C1', 'C2', 'C3', 'C4', 'C5', 'D', 'E', 'F', 'M', 'N', 'P'];

export async function verifierPage({ root, path, session }: PageContext): Promise<Cleanup> {
  const tab = path[0] === 'pass' ? 'pass' : 'licence';
  const officer = session.claims.roles.includes('officer');
  let scanner: Scanner | null = null;
  const stopCamera = () => {
    scanner?.stop();
    scanner = null;
  };
  const answer = h('section', { class: 'answer-box', 'aria-live': 'assertive', 'data-testid': 'answer' });
  const video = h('video', { class: 'camera', hidden: true, 'aria-label': tr('摄像头画面', 'Camera view') });
  const cameraStatus = h('p', { class: 'hint', role: 'status' });
  const scanButton = h('button', { type: 'button', class: 'primary scan' }, tr('扫码', 'Scan'));

  /** Starts the camera; `verify` gets the code it reads. */
  const scanWith = (verify: (code: string) => Promise<void>) => async () => {
    if (scanner) {
      stopCamera();
      video.hidden = true;
      scanButton.textContent = tr('扫码', 'Scan');
      return;
    }
    replace(cameraStatus, tr('请将二维码对准摄像头…', 'Hold the QR code in front of the camera…'));
    video.hidden = false;
    scanButton.textContent = tr('停止扫码', 'Stop scanning');
    try {
      scanner = await startScanner(video, (code) => {
        scanner = null;
        video.hidden = true;
        scanButton.textContent = tr('扫码', 'Scan');
        replace(cameraStatus, tr('已读取二维码。', 'Code read.'));
        void verify(code);
      });
    } catch (error) {
      video.hidden = true;
      scanButton.textContent = tr('扫码', 'Scan');
      replace(
        cameraStatus,
        notice('warn', tr('无法使用摄像头，请粘贴二维码内容或输入条码。', 'The camera cannot be used: paste the code or type the barcode.'), ` (${String(error)})`),
      );
    }
  };

  const head: Child[] = [
    h('h1', null, tr('核验', 'Verify')),
    tabs([
      { href: '#/verifier/licence', label: tr('驾驶证', 'Licence'), current: tab === 'licence' },
      { href: '#/verifier/pass', label: tr('货车通行证', 'Truck pass'), current: tab === 'pass' },
    ]),
  ];
  if (tab === 'pass') {
    if (!officer) {
      replace(root, ...head, notice('warn', tr('货车通行证仅由执法民警核验。', 'Truck passes are checked by police officers only.')));
      return stopCamera;
    }
    await passTab(root, head, { answer, video, cameraStatus, scanButton, scanWith });
    return stopCamera;
  }

  const purpose = officer
    ? null
    : h(
        'select',
        { id: 'purpose', required: true },
        h('option', { value: '' }, tr('请选择核验目的', 'Choose the purpose')),
        Object.entries(PURPOSES)
          .filter(([code]) => code !== 'traffic_enforcement')
          .map(([code, words]) => h('option', { value: code }, words.zh, ' / ', words.en)),
      );
  const vehicleClass = h(
    'select',
    { id: 'class' },
    h('option', { value: '' }, tr('不核验准驾车型', 'No class asked')),
    CLASSES.map((c) => h('option', { value: c }, c)),
  );
  const code = h('textarea', { id: 'code', rows: '3', placeholder: 'EDL2:…', autocomplete: 'off', spellcheck: 'false' });
  const barcode = h('input', { id: 'barcode', inputmode: 'numeric', autocomplete: 'off', pattern: '[0-9]{28}[0-9X]', placeholder: tr('29 位条码', '29-character barcode') });

  const verify = async (what: { code?: string; barcode?: string }) => {
    if (purpose && !purpose.value) {
      replace(answer, notice('warn', tr('请先选择核验目的。', 'Choose the purpose first.')));
      purpose.focus();
      return;
    }
    replace(answer, h('p', { role: 'status' }, tr('正在核验…', 'Verifying…')));
    try {
      const result = await call<LicenceAnswer>('POST', '/verifications', {
        body: { ...what, purpose: purpose?.value || undefined, class: vehicleClass.value || undefined },
      });
      replace(answer, licenceAnswer(result));
    } catch (error) {
      replace(answer, problemView(error) ?? '');
    }
  };
  scanButton.addEventListener('click', scanWith((text) => verify({ code: text })));
  replace(
    root,
    ...head,
    h(
      'div',
      { class: 'verify-layout' },
      h(
        'div',
        { class: 'verify-input' },
        purpose && h('label', { for: 'purpose' }, tr('核验目的（必选）', 'Purpose (required)')),
        purpose,
        h('label', { for: 'class' }, tr('核验准驾车型', 'Vehicle class to check')),
        vehicleClass,
        scanButton,
        video,
        cameraStatus,
        h(
          'form',
          {
            onsubmit: (event: Event) => {
              event.preventDefault();
              if (code.value.trim()) void verify({ code: code.value.trim() });
            },
          },
          h('label', { for: 'code' }, tr('或粘贴二维码内容', 'Or paste the QR content')),
          code,
          h('button', { type: 'submit' }, tr('核验二维码', 'Verify the code')),
        ),
        // A serial names a licence to an officer only (a relying party's is refused): no barcode field for them.
        officer &&
          h(
            'form',
            {
              onsubmit: (event: Event) => {
                event.preventDefault();
                if (barcode.value.trim()) void verify({ barcode: barcode.value.trim().toUpperCase() });
              },
            },
            h('label', { for: 'barcode' }, tr('或输入条码', 'Or type the barcode')),
            barcode,
            h('button', { type: 'submit' }, tr('核验条码', 'Verify the barcode')),
          ),
      ),
      answer,
    ),
  );
  return stopCamera;
}

function value(field: string, raw: unknown): Child {
  if (field === 'sex') return word(SEX, String(raw));
  if (field === 'states') {
    const states = raw as string[];
    return states.length ? states.map((s) => word(LICENCE_STATES, s)).join('、') : tr('正常', 'normal');
  }
  if (field === 'classes') return (raw as string[]).join(' ');
  if (field === 'mayDrive') {
    const may = raw as { class: string; allowed: boolean };
    return h('strong', { class: may.allowed ? 'yes' : 'no' }, may.allowed ? tr(`可以驾驶 ${may.class}`, `may drive ${may.class}`) : tr(`不可驾驶 ${may.class}`, `may not drive ${may.class}`));
  }
  if (field === 'record') {
    const record = raw as { at: string; reason: string; changed: string[] }[];
    return record.length ? h('ul', null, record.map((r) => h('li', null, `${dateTime(r.at)} · ${r.reason}`))) : tr('无', 'none');
  }
  if (field === 'portrait') {
    // The portrait signed into the licence, for the officer to compare with the face in front of them.
    const portrait = raw as { mediaType?: string; data?: string } | null;
    const type = portrait?.mediaType === 'image/png' ? 'image/png' : 'image/jpeg';
    if (!portrait?.data || !/^[A-Za-z0-9+/]+=*$/.test(portrait.data)) return tr('无', 'none');
    return h('img', { class: 'portrait', src: `data:${type};base64,${portrait.data}`, alt: tr('驾驶证照片', 'Licence portrait') });
  }
  if (field === 'colour') return raw === 'green' ? tr('绿码', 'green') : tr('红码', 'red');
  return String(raw);
}

function licenceAnswer(result: LicenceAnswer): HTMLElement {
  const green = result.valid && result.colour === 'green';
  const headline = !result.valid
    ? tr('无效', 'Not valid')
    : green
      ? tr('有效 · 绿码', 'Valid · green')
      : tr('红码 · 驾驶证状态异常', 'Red · the licence is not in order');
  const reason = !result.valid
    ? [h('p', { class: 'reason' }, word(VERIFICATION_REASONS, result.reason ?? '')), h('p', { class: 'detail' }, result.detail ?? '')]
    : !green
      ? h('p', { class: 'reason' }, tr('逾期未换证或审验、记满 12 分、被扣留或暂扣时显示红码。', 'Red when overdue for renewal or review, at 12 points, or detained or seized.'))
      : null;
  const order = Object.keys(DISCLOSED_FIELDS);
  const disclosed = Object.entries(result.disclosed).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
  return h(
    'div',
    { class: `answer ${green ? 'answer-green' : 'answer-red'}`, 'data-valid': String(result.valid), 'data-colour': result.colour ?? '' },
    h('p', { class: 'headline' }, headline),
    reason,
    disclosed.length > 0 && facts(disclosed.map(([field, raw]) => [word(DISCLOSED_FIELDS, field), value(field, raw)])),
    facts([
      [tr('实时状态读取于', 'Live state read at'), result.liveStateAt ? dateTime(result.liveStateAt) : ''],
      [tr('核验时间', 'Checked at'), dateTime(result.checkedAt)],
      [tr('核验目的', 'Purpose'), word(PURPOSES, result.purpose)],
      [tr('电子证序列号', 'Serial'), result.serial ?? ''],
      [tr('核验记录编号', 'Check id'), result.checkId],
    ]),
  );
}

interface Camera {
  answer: HTMLElement;
  video: HTMLVideoElement;
  cameraStatus: HTMLElement;
  scanButton: HTMLButtonElement;
  scanWith: (verify: (code: string) => Promise<void>) => () => Promise<void>;
}

async function passTab(root: HTMLElement, head: Child[], camera: Camera): Promise<void> {
  const { answer, video, cameraStatus, scanButton, scanWith } = camera;
  const cities = await call<{ cities: CitySummary[] }>('GET', '/truck/cities').catch((error: unknown) => {
    replace(root, ...head, problemView(error) ?? '');
    return null;
  });
  if (!cities) return;
  const zone = h('select', { id: 'zone', required: true });
  const city = h(
    'select',
    { id: 'city' },
    cities.cities.map((c) => h('option', { value: c.city }, `${c.name} (${c.city})`)),
  );
  const loadZones = async () => {
    try {
      const rules = await call<CityRules>('GET', `/truck/cities/${encodeURIComponent(city.value)}`);
      replace(zone, rules.zones.map((z) => h('option', { value: z.id }, `${z.name} (${z.id})`)));
    } catch (error) {
      replace(answer, problemView(error) ?? '');
    }
  };
  city.addEventListener('change', () => void loadZones());
  const at = h('input', { id: 'at', type: 'datetime-local' });
  const code = h('textarea', { id: 'pass-code', rows: '3', placeholder: 'TRK2:…', autocomplete: 'off', spellcheck: 'false' });
  const verify = async (text: string) => {
    replace(answer, h('p', { role: 'status' }, tr('正在核验…', 'Verifying…')));
    try {
      const result = await call<PassAnswer>('POST', '/truck/verifications', {
        body: { code: text, zone: zone.value, city: city.value, at: at.value ? beijingToRfc3339(at.value) : undefined },
      });
      replace(
        answer,
        h(
          'div',
          { class: `answer ${result.allowed ? 'answer-green' : 'answer-red'}`, 'data-allowed': String(result.allowed) },
          h('p', { class: 'headline' }, result.allowed ? tr('允许通行', 'Allowed here') : tr('不允许通行', 'Not allowed here')),
          h('p', { class: 'reason' }, word(PASS_CHECK_REASONS, result.reason)),
          h('p', { class: 'detail' }, result.detail),
          result.pass && passTerms(result.pass),
          facts([
            [tr('区域', 'Zone'), result.zone],
            [tr('判断时刻', 'Moment'), dateTime(result.moment)],
            [tr('核验时间', 'Checked at'), dateTime(result.checkedAt)],
            [tr('核验记录编号', 'Check id'), result.checkId],
          ]),
        ),
      );
    } catch (error) {
      replace(answer, problemView(error) ?? '');
    }
  };
  scanButton.addEventListener('click', scanWith(verify));
  replace(
    root,
    ...head,
    h(
      'div',
      { class: 'verify-layout' },
      h(
        'div',
        { class: 'verify-input' },
        h('label', { for: 'city' }, tr('所在城市', 'City')),
        city,
        h('label', { for: 'zone' }, tr('所在区域', 'Zone')),
        zone,
        h('label', { for: 'at' }, tr('时刻（留空为现在）', 'Moment (empty for now)')),
        at,
        scanButton,
        video,
        cameraStatus,
        h(
          'form',
          {
            onsubmit: (event: Event) => {
              event.preventDefault();
              if (code.value.trim()) void verify(code.value.trim());
            },
          },
          h('label', { for: 'pass-code' }, tr('或粘贴通行证二维码内容', 'Or paste the pass code')),
          code,
          h('button', { type: 'submit' }, tr('核验通行证', 'Check the pass')),
        ),
      ),
      answer,
    ),
  );
  await loadZones();
}
