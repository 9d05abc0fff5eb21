// The verifier page (R9, R13): a real show code read by the camera (a fake video of it) for a green licence and a
// red one; a relying party stating its purpose; a truck pass checked for a zone.

import { chromium, expect, test, type Browser } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config';
import { api, baseUrl, issuedLicence, newLicence, open, screenshot, token } from './support';
import { qrVideo } from './camera';

/** A Chromium whose camera shows `code` as a QR code. */
async function browserShowing(code: string, file: string): Promise<Browser> {
  qrVideo(code, file);
  return chromium.launch({
    executablePath: process.env.EDL_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      ...CHROMIUM_ARGS,
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${file}`,
    ],
  });
}

async function showCode(holderToken: string): Promise<{ code: string; colour: string }> {
  const answer = await api<{ code: string; colour: string }>(holderToken, 'GET', '/licence/code');
  expect(answer.status).toBe(200);
  return answer.body;
}

for (const colour of ['green', 'red'] as const) {
  test(`an officer scans a ${colour} licence's QR code with the camera and sees it at a glance`, async ({}, info) => {
    const holder = await newLicence({ name: colour === 'green' ? '吴绿码' : '冯红码' });
    const holderToken = await issuedLicence(holder);
    if (colour === 'red') {
      const admin = await token('admin');
      const changed = await api(admin, 'PATCH', `/admin/licences/${holder}`, { points: 12, reason: '违法记分满分' });
      expect(changed.status).toBe(200);
    }
    const shown = await showCode(holderToken);
    expect(shown.colour).toBe(colour);

    const browser = await browserShowing(shown.code, info.outputPath(`${colour}.y4m`));
    try {
      const context = await browser.newContext({ viewport: { width: 1024, height: 1366 }, locale: 'zh-CN' });
      await context.grantPermissions(['camera'], { origin: baseUrl() });
      const page = await context.newPage();
      await open(page, '#/verifier', 'officer');
      await page.getByRole('button', { name: '扫码' }).click();
      const answer = page.locator('.answer');
      await expect(answer).toHaveAttribute('data-colour', colour);
      await expect(answer).toHaveClass(colour === 'green' ? /answer-green/ : /answer-red/);
      await expect(answer.locator('.headline')).toHaveText(colour === 'green' ? '有效 · 绿码' : '红码 · 驾驶证状态异常');
      await expect(answer).toContainText(colour === 'green' ? '吴绿码' : '冯红码');
      await expect(answer).toContainText('实时状态读取于');
      await screenshot(page, info, `verifier-${colour}`);
    } finally {
      await browser.close();
    }
  });
}

test('a relying party states its purpose and sees only what it needs', async ({ page }, info) => {
  const holder = await newLicence({ name: '陈租车' });
  const { code } = await showCode(await issuedLicence(holder));
  await open(page, '#/verifier', 'relying_party', { org: '神州租车' });
  await page.locator('#code').fill(code);
  await page.getByRole('button', { name: '核验二维码' }).click();
  await expect(page.locator('.notice-warn')).toContainText('请先选择核验目的');
  await page.locator('#purpose').selectOption('car_rental');
  await page.locator('#class').selectOption('C1');
  await page.getByRole('button', { name: '核验二维码' }).click();
  const answer = page.locator('.answer');
  await expect(answer).toHaveClass(/answer-green/);
  await expect(answer).toContainText('可以驾驶 C1');
  await expect(answer).toContainText('陈租车');
  await expect(answer).not.toContainText('住址');
  await screenshot(page, info, 'verifier-relying-party');
});

test('a damaged code is answered red with the reason in words', async ({ page }) => {
  await open(page, '#/verifier', 'officer');
  await page.locator('#code').fill('EDL2:NOT-A-REAL-CODE');
  await page.getByRole('button', { name: '核验二维码' }).click();
  const answer = page.locator('.answer');
  await expect(answer).toHaveAttribute('data-valid', 'false');
  await expect(answer.locator('.headline')).toHaveText('无效');
  await expect(answer.locator('.reason')).toHaveText('二维码内容已损坏');
});

test('an officer checks a truck pass for a zone', async ({ page }, info) => {
  const fleet = await token('fleet_manager');
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
  const pass = await api<{ id: string }>(fleet, 'POST', '/truck/passes', {
    plate: '京B2000D',
    city: '110000',
    passType: 'short',
    zones: ['ring-5'],
    validFrom: today,
    validTo: today,
    windows: [{ from: '00:00', to: '24:00' }],
  });
  expect(pass.status, JSON.stringify(pass.body)).toBe(201);
  const { code } = (await api<{ code: string }>(fleet, 'GET', `/truck/passes/${pass.body.id}/code`)).body;

  await open(page, '#/verifier/pass', 'officer');
  await page.locator('#city').selectOption('110000');
  await expect(page.locator('#zone option[value="ring-6"]')).toBeAttached();
  // Ten in the morning is within Beijing's restricted hours on working and rest days alike.
  await page.locator('#at').fill(`${today}T10:00`);
  await page.locator('#zone').selectOption('ring-5');
  await page.locator('#pass-code').fill(code);
  await page.getByRole('button', { name: '核验通行证' }).click();
  await expect(page.locator('.answer')).toHaveAttribute('data-allowed', 'true');
  await expect(page.locator('.answer .reason')).toHaveText('在通行证许可范围内');
  await screenshot(page, info, 'verifier-truck-pass');

  await page.locator('#zone').selectOption('ring-6');
  await page.getByRole('button', { name: '核验通行证' }).click();
  await expect(page.locator('.answer')).toHaveAttribute('data-allowed', 'false');
  await expect(page.locator('.answer .reason')).toHaveText('通行证不含该区域');
});
