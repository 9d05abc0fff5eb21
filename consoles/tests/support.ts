// What the browser tests share: the server under test, the API as the other actors use it, test data, screenshots.

import { randomInt } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { expect, type Page, type TestInfo } from '@playwright/test';

/** The local server the tests run against (`scripts/test.sh` starts it and sets this). */
export function baseUrl(): string {
  const base = process.env.EDL_BASE_URL;
  if (!base) {
    throw new Error(
      'EDL_BASE_URL is not set: start the local server (cargo run -p edl-local-api -- --port 3001) and run ' +
        'EDL_BASE_URL=http://127.0.0.1:3001 npx playwright test in consoles/, or run scripts/test.sh',
    );
  }
  return base.replace(/\/+$/, '');
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** A call to the HTTP API as another actor would make it (the holder's app, a terminal). */
export async function api<T = Record<string, unknown>>(
  token: string | null,
  method: string,
  route: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = contentType;
  const response = await fetch(`${baseUrl()}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
}

/** A development token for a role (the local server plays the authority's login). */
export async function token(role: string, claims: { sub?: string; office?: string; org?: string } = {}): Promise<string> {
  const answer = await api<{ token: string }>(null, 'POST', '/_dev/tokens', { role, ...claims });
  expect(answer.status).toBe(201);
  return answer.body.token;
}

/** GB 11643 check character of the first 17 digits of a resident identity number. */
function checkCharacter(seventeen: string): string {
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...seventeen].reduce((total, digit, i) => total + Number(digit) * (weights[i] ?? 0), 0);
  return '10X98765432'[sum % 11] ?? '0';
}

export interface LicenceSpec {
  city?: string;
  cityName?: string;
  name?: string;
  photoOnFile?: boolean;
  points?: number;
  states?: string[];
}

/** Imports a new licence through `POST /admin/licences` and returns its number: every test has holders of its own. */
/** The SHA-256 of 张伟's photo on file, which the sample register keeps in the server's photo store. */
async function registerPhoto(admin: string): Promise<string> {
  const record = await api<{ licence: { photoSha256: string } }>(admin, 'GET', '/admin/licences/11010519900307451X');
  expect(record.status, JSON.stringify(record.body)).toBe(200);
  return record.body.licence.photoSha256;
}

export async function newLicence(spec: LicenceSpec = {}): Promise<string> {
  const city = spec.city ?? '110000';
  const year = 1960 + randomInt(40);
  const birth = `${year}${String(1 + randomInt(12)).padStart(2, '0')}${String(1 + randomInt(28)).padStart(2, '0')}`;
  const seventeen = `${city.slice(0, 4)}05${birth}${String(randomInt(1000)).padStart(3, '0')}`;
  const number = `${seventeen}${checkCharacter(seventeen)}`;
  const licence = {
    number,
    holderId: number,
    name: spec.name ?? '测试持证人',
    sex: Number(seventeen[16]) % 2 === 1 ? 'male' : 'female',
    nationality: 'CHN',
    birthDate: `${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6, 8)}`,
    address: `${spec.cityName ?? '北京市'}测试路 ${randomInt(1000)} 号`,
    firstIssueDate: `${year + 20}-05-10`,
    classes: ['C1'],
    validFrom: '2022-05-10',
    validTo: '2032-05-10',
    issuingAuthority: { code: city, name: `${spec.cityName ?? '北京市'}公安局交通管理局车辆管理所` },
    archiveNumber: `${city.slice(0, 4)}${String(randomInt(1e8)).padStart(8, '0')}`,
    points: spec.points ?? 0,
    states: spec.states ?? [],
    photoOnFile: spec.photoOnFile ?? true,
  };
  const admin = await token('admin');
  // The photo on file is an image the register holds (R3): a new licence names one the server already keeps.
  const photo = licence.photoOnFile ? { photoSha256: await registerPhoto(admin) } : {};
  const line = JSON.stringify({ ...licence, ...photo });
  const answer = await api(admin, 'POST', '/admin/licences', `${line}\n`, 'application/x-ndjson');
  expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(300);
  return number;
}

/** Applies with the photo on file and passes the liveness check: the licence is issued at once (R3). */
export async function issuedLicence(holder: string): Promise<string> {
  const holderToken = await token('holder', { sub: holder });
  const opened = await api<{ id: string }>(holderToken, 'POST', '/applications', { photoSource: 'on_file' });
  expect(opened.status, JSON.stringify(opened.body)).toBe(201);
  const confirmed = await passLiveness(holderToken, opened.body.id);
  expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
  return holderToken;
}

/**
 * The real-person check of an application with the photo on file (R3): the backend creates the session, the
 * local server finishes it with the holder's own face (as the app's detector would), the holder confirms it.
 */
export async function passLiveness(holderToken: string, application: string) {
  const started = await api<{ sessionId: string }>(holderToken, 'POST', `/applications/${application}/liveness-sessions`);
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  const finished = await api(null, 'POST', '/_dev/liveness', { sessionId: started.body.sessionId });
  expect(finished.status, JSON.stringify(finished.body)).toBe(200);
  return api(holderToken, 'POST', `/applications/${application}/liveness`, { livenessSessionId: started.body.sessionId });
}

/**
 * An ID photo as PNG that passes every automatic check (near-white border, dark head and shoulders,
 * 360x480); the noise makes each one a different file, as two people's photos are.
 */
export function idPhoto(): Buffer {
  const width = 360;
  const height = 480;
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let at = 0;
  for (let y = 0; y < height; y++) {
    raw[at++] = 0;
    for (let x = 0; x < width; x++) {
      const dx = (x - 180) / 70;
      const dy = (y - 180) / 90;
      const person = dx * dx + dy * dy < 1 || (y > 330 && Math.abs(x - 180) < 150);
      const value = person ? 40 + randomInt(20) : 245 - randomInt(7);
      raw[at++] = value;
      raw[at++] = value;
      raw[at++] = value;
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The holder's app sends a new photo for the application: an upload link, then the file. */
export async function uploadPhoto(holderToken: string, application: string): Promise<void> {
  const form = await api<{ upload: { method: string; url: string; headers: Record<string, string> } }>(
    holderToken,
    'POST',
    `/applications/${application}/photo-uploads`,
    { source: 'camera', contentType: 'image/png' },
  );
  expect(form.status, JSON.stringify(form.body)).toBe(201);
  const sent = await fetch(form.body.upload.url, {
    method: form.body.upload.method,
    headers: form.body.upload.headers,
    body: new Uint8Array(idPhoto()),
  });
  expect(sent.status, await sent.text()).toBe(201);
}

/** Signs in through the development sign-in with this role (and claims). */
export async function signIn(page: Page, role: string, claims: { sub?: string; office?: string; org?: string } = {}): Promise<void> {
  if (!page.url().includes('#/signin')) await page.waitForURL(/#\/signin/);
  for (const [name, value] of Object.entries(claims)) {
    await page.locator(`input[name="${name}"]`).fill(value);
  }
  await page.locator(`button[data-role="${role}"]`).click();
  await expect(page.locator('[data-testid="user"]')).toBeVisible();
}

/** Opens a console page signed in as `role`. */
export async function open(page: Page, hash: string, role: string, claims: { sub?: string; office?: string; org?: string } = {}): Promise<void> {
  await page.goto(`${baseUrl()}/consoles/${hash}`);
  await signIn(page, role, claims);
}

/** Saves a screenshot as test output (`test-results/screenshots/<name>.png`) and attaches it to the report. */
export async function screenshot(page: Page, info: TestInfo, name: string): Promise<void> {
  const directory = path.join(info.project.outputDir, 'screenshots');
  mkdirSync(directory, { recursive: true });
  const file = path.join(directory, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await info.attach(name, { path: file, contentType: 'image/png' });
}
