// The reviewer console (R4, R5, R13, R15): a photo uploaded through the API is rejected with reasons, resubmitted,
// approved and issued, from the keyboard alone; a conflict; an ended token; the truck pass queue.

import { expect, test, type Page } from '@playwright/test';
import { api, newLicence, open, screenshot, signIn, token, uploadPhoto } from './support';

/** Presses N until the queue has `id` selected (the queue may hold other tests' items). */
async function selectWithKeyboard(page: Page, id: string): Promise<void> {
  const selected = page.locator(`.queue-list li.selected a[data-id="${id}"]`);
  await expect(page.locator(`.queue-list a[data-id="${id}"]`)).toBeVisible();
  for (let step = 0; step < 100 && !(await selected.isVisible()); step++) {
    await page.keyboard.press('n');
    await page.waitForLoadState('domcontentloaded');
    await expect(page.locator('.item-head h2, .item .empty, .item .notice').first()).toBeVisible();
  }
  await expect(selected).toBeVisible();
}

async function applyWithNewPhoto(): Promise<{ holder: string; holderToken: string; application: string }> {
  const holder = await newLicence({ photoOnFile: false, name: '周审核' });
  const holderToken = await token('holder', { sub: holder });
  const opened = await api<{ id: string }>(holderToken, 'POST', '/applications', { photoSource: 'camera' });
  expect(opened.status).toBe(201);
  await uploadPhoto(holderToken, opened.body.id);
  return { holder, holderToken, application: opened.body.id };
}

test('a photo is rejected with reasons, resubmitted and approved from the keyboard alone, and the licence is issued', async ({ page }, info) => {
  const { holderToken, application } = await applyWithNewPhoto();

  await open(page, '#/reviewer', 'reviewer');
  await selectWithKeyboard(page, application);
  const item = page.locator('.item');
  await expect(item.locator('.item-head h2')).toHaveText('周审核');
  await expect(item.locator('img[data-photo="new"]')).toBeVisible();
  await expect(item.locator('.checks li.pass')).toHaveCount(9);
  await expect(item.locator('.photos figure').nth(1)).toContainText('无');

  // Reasons by number: 1 (background) and 14 (eyes closed), then Enter rejects.
  await page.keyboard.press('1');
  await page.keyboard.type(' 14');
  await expect(item.locator('input[value="background-not-white"]')).toBeChecked();
  await expect(item.locator('input[value="eyes-closed"]')).toBeChecked();
  await screenshot(page, info, 'reviewer-console');
  await page.keyboard.press('Enter');
  await expect(page.locator('.flash .notice-ok')).toContainText('已拒绝（2 项理由）');

  const rejected = await api<{ state: string; lastReview: { reasons: string[] } }>(holderToken, 'GET', `/applications/${application}`);
  expect(rejected.body.state).toBe('rejected');
  expect(rejected.body.lastReview.reasons).toEqual(['background-not-white', 'eyes-closed']);

  // The holder sends a new photo; the reviewer updates the queue (U) and finds it beside the previous one.
  await uploadPhoto(holderToken, application);
  await page.keyboard.press('u');
  await selectWithKeyboard(page, application);
  await expect(item.locator('.item-head')).toContainText('重新提交');
  await expect(item.locator('img[data-photo="previous"]')).toBeVisible();
  await expect(item).toContainText('上次拒绝理由：背景不是白色 / Background not white；闭眼 / Eyes closed');
  await screenshot(page, info, 'reviewer-resubmitted');
  await page.keyboard.press('a');
  await expect(page.locator('.flash .notice-ok')).toContainText('已通过');

  const issued = await api<{ state: string }>(holderToken, 'GET', `/applications/${application}`);
  expect(issued.body.state).toBe('issued');
  const licence = await api<{ serial: string }>(holderToken, 'GET', '/licence');
  expect(licence.status).toBe(200);
});

test('when another reviewer decided first, the console says so plainly and moves on', async ({ page }) => {
  const { application } = await applyWithNewPhoto();
  await open(page, `#/reviewer/photos/${application}`, 'reviewer');
  await expect(page.locator('.item-head h2')).toHaveText('周审核');

  const other = await token('reviewer', { sub: 'reviewer-0002' });
  const first = await api(other, 'POST', `/reviews/${application}/decision`, { verdict: 'approve' });
  expect(first.status).toBe(200);

  await page.keyboard.press('a');
  await expect(page.locator('.flash .notice-warn')).toContainText('另一位审核员已先作出决定');
  await expect(page).not.toHaveURL(new RegExp(application));
});

test('a malicious report waits, marked, for a second reviewer, whose confirmation stops it', async ({ page }) => {
  const { application } = await applyWithNewPhoto();
  const other = await token('reviewer', { sub: 'reviewer-0002' });
  const reported = await api<{ state: string }>(other, 'POST', `/reviews/${application}/decision`, {
    verdict: 'malicious',
    note: '可疑内容',
  });
  expect(reported.status).toBe(200);
  expect(reported.body.state).toBe('awaiting_review');
  // The reporter cannot confirm it alone.
  const again = await api(other, 'POST', `/reviews/${application}/decision`, { verdict: 'malicious', note: '确认' });
  expect(again.status).toBe(403);

  await open(page, `#/reviewer/photos/${application}`, 'reviewer');
  await expect(page.locator(`.queue-list a[data-id="${application}"]`)).toContainText('恶意举报待复核');
  await expect(page.locator('.item .notice-warn').first()).toContainText('reviewer-0002');
  await page.keyboard.press('m');
  const dialog = page.locator('dialog.confirm');
  await expect(dialog).toContainText('确认另一位审核员的举报');
  await dialog.locator('textarea[name="malicious-note"]').fill('确认：内容违法');
  await dialog.locator('input[name="malicious-confirm"]').check();
  await dialog.locator('button[value="confirm"]').click();
  await expect(page.locator('.flash .notice-ok')).toContainText('已确认恶意上传');
});

test('an ended session leads to sign-in and back to the same item with the chosen reasons kept', async ({ page }) => {
  const { application } = await applyWithNewPhoto();
  await page.clock.install();
  await open(page, `#/reviewer/photos/${application}`, 'reviewer');
  await expect(page.locator('.item-head h2')).toHaveText('周审核');
  await page.keyboard.press('3');
  await expect(page.locator('input[value="not-upright"]')).toBeChecked();

  // Thirteen hours later the twelve-hour token has ended: rejecting asks to sign in again first.
  await page.clock.fastForward('13:00:00');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#\/signin\?expired/);
  await expect(page.locator('.notice-warn')).toContainText('登录已过期');
  await expect(page.locator('button[data-role="reviewer"]')).toHaveClass(/primary/);
  await signIn(page, 'reviewer');

  await expect(page).toHaveURL(new RegExp(`#/reviewer/photos/${application}$`));
  await expect(page.locator('input[value="not-upright"]')).toBeChecked();
  await expect(page.locator('#reason-numbers')).toHaveValue('3');
  await page.locator('#reason-numbers').press('Enter');
  await expect(page.locator('.flash .notice-ok')).toContainText('已拒绝（1 项理由）');
});

test('a token the API refuses (the JWT authorizer answers 401) leads to sign-in and back', async ({ page }) => {
  const { application } = await applyWithNewPhoto();
  await open(page, `#/reviewer/photos/${application}`, 'reviewer');
  await expect(page.locator('.item-head h2')).toHaveText('周审核');
  // What API Gateway's JWT authorizer answers for an expired or revoked token.
  await page.route('**/reviews/*/decision', (route) =>
    route.fulfill({ status: 401, contentType: 'application/json', headers: { 'www-authenticate': 'Bearer' }, body: '{"message":"Unauthorized"}' }),
  );
  await page.keyboard.press('a');
  await expect(page).toHaveURL(/#\/signin\?expired/);
  await page.unroute('**/reviews/*/decision');
  await signIn(page, 'reviewer');
  await expect(page).toHaveURL(new RegExp(`#/reviewer/photos/${application}$`));
  // The key is pressed once the item is on the page again (its keyboard handler with it), not merely routed to.
  await expect(page.locator('.item-head h2')).toHaveText('周审核');
  await page.keyboard.press('a');
  await expect(page.locator('.flash .notice-ok')).toContainText('已通过');
});

test('truck pass reviews have their own tab: a long pass is approved and signed', async ({ page }, info) => {
  const fleet = await token('fleet_manager');
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
  const later = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(Date.now() + 20 * 86_400_000));
  const applied = await api<{ id: string; status: { state: string } }>(fleet, 'POST', '/truck/passes', {
    plate: '京B20002',
    city: '110000',
    passType: 'long',
    zones: ['ring-6'],
    validFrom: today,
    validTo: later,
    windows: [{ from: '09:00', to: '16:00' }],
  });
  expect(applied.status, JSON.stringify(applied.body)).toBe(201);
  expect(applied.body.status.state).toBe('pending_review');

  await open(page, `#/reviewer/passes/${applied.body.id}`, 'reviewer');
  await expect(page.locator('.item-head h2')).toHaveText('京B20002');
  await expect(page.locator('.item')).toContainText('ring-6');
  await screenshot(page, info, 'reviewer-truck-pass');
  await page.keyboard.press('a');
  await expect(page.locator('.flash .notice-ok')).toContainText('已通过并签发');
  const pass = await api<{ status: { state: string } }>(fleet, 'GET', `/truck/passes/${applied.body.id}`);
  expect(pass.body.status.state).toBe('active');
});
