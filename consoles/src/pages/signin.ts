// Sign-in: the authority's OpenID Connect login, or locally the development sign-in that picks a role.

import { h, notice, replace } from '../dom';
import { ROLES, tr, word } from '../i18n';
import {
  beginOidcSignIn,
  currentConfig,
  lastDevIdentity,
  signInDevelopment,
  takePlace,
  type DevSignIn,
} from '../session';

const STAFF_ROLES = ['reviewer', 'clerk', 'admin', 'officer', 'relying_party', 'fleet_manager'];

export function signInPage(root: HTMLElement, query: URLSearchParams): void {
  const status = h('div', { class: 'status' });
  const why = query.has('expired')
    ? notice(
        'warn',
        tr('登录已过期，请重新登录；登录后将回到您原来的位置。', 'Your session has ended. Sign in again to continue where you were.'),
      )
    : query.has('signed-out')
      ? notice('ok', tr('您已退出。', 'You have signed out.'))
      : query.has('failed')
        ? notice(
            'error',
            h('strong', null, tr('登录未完成', 'Sign-in did not complete')),
            h('p', null, sessionStorage.getItem('edl.signInError') ?? ''),
          )
        : null;
  const config = currentConfig();
  if (config.signIn === 'oidc') {
    const button = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        onclick: async () => {
          button.disabled = true;
          try {
            await beginOidcSignIn();
          } catch (error) {
            button.disabled = false;
            replace(status, notice('error', String(error instanceof Error ? error.message : error)));
          }
        },
      },
      tr('使用统一身份认证登录', 'Sign in with the authority login'),
    );
    replace(root, h('section', { class: 'signin' }, h('h1', null, tr('登录', 'Sign in')), why, button, status));
    return;
  }

  const last = lastDevIdentity();
  const field = (name: keyof DevSignIn, label: string, hint: string) =>
    h(
      'label',
      null,
      label,
      h('input', { name, value: last?.[name] ?? '', autocomplete: 'off', 'aria-describedby': `${name}-hint` }),
      h('small', { id: `${name}-hint` }, hint),
    );
  const form = h(
    'form',
    { class: 'dev-identity' },
    h(
      'fieldset',
      null,
      h('legend', null, tr('身份（可选，留空则用示例数据中的默认值）', 'Identity (optional; empty uses the sample defaults)')),
      field('sub', tr('用户标识 sub', 'Subject (sub)'), tr('工号或身份证号', 'a staff id or identity number')),
      field('office', tr('所属车管所 office', 'Office'), tr('窗口业务员的城市代码，如 440300', 'a clerk’s city code, e.g. 440300')),
      field('org', tr('单位 org', 'Organisation (org)'), tr('核验单位名称或车队信用代码', 'a verifier’s name or a fleet’s credit code')),
    ),
  );
  const signIn = async (role: string) => {
    const data = new FormData(form);
    const value = (key: string) => String(data.get(key) ?? '').trim() || undefined;
    try {
      await signInDevelopment({
        role,
        sub: value('sub'),
        office: value('office'),
        org: value('org'),
      });
      location.hash = takePlace();
    } catch (error) {
      replace(status, notice('error', tr('登录失败：', 'Sign-in failed: '), String(error instanceof Error ? error.message : error)));
    }
  };
  const roles = last ? [last.role, ...STAFF_ROLES.filter((r) => r !== last.role)] : STAFF_ROLES;
  replace(
    root,
    h(
      'section',
      { class: 'signin' },
      h('h1', null, tr('开发登录', 'Development sign-in')),
      h(
        'p',
        { class: 'hint' },
        tr(
          '本地服务器专用：选择一个角色即可登录。部署后使用统一身份认证。',
          'Local server only: pick a role to sign in. Deployed consoles use the authority login.',
        ),
      ),
      why,
      h(
        'div',
        { class: 'role-buttons' },
        roles.map((role) =>
          h(
            'button',
            { type: 'button', class: role === last?.role ? 'primary' : '', 'data-role': role, onclick: () => void signIn(role) },
            word(ROLES, role),
          ),
        ),
      ),
      form,
      status,
    ),
  );
}
