// login.js: the sign-in screen (superusers only).
import { api, session } from './api.js';
import { h, replace } from './dom.js';

// render shows the sign-in form in main; message (if any) says why.
// onSignedIn runs after a successful sign-in.
export function render(main, { message, onSignedIn }) {
  const email = h('input', { id: 'login-email', type: 'email', name: 'email', autocomplete: 'username', required: true, value: session.email });
  const password = h('input', { id: 'login-password', type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'error', id: 'login-error', role: 'alert' });
  const button = h('button', { type: 'submit', id: 'login-submit' }, 'Sign in');
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'login-title', novalidate: true },
    h('h1', { id: 'login-title' }, 'Sign in to manage backups'),
    message ? h('p', { class: 'notice', id: 'login-message', role: 'status' }, message) : null,
    h('label', { for: 'login-email' }, 'E-mail'), email,
    h('label', { for: 'login-password' }, 'Password'), password,
    error,
    h('div', { class: 'actions' }, button),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (button.disabled) return;
    replace(error);
    if (!email.value || !password.value) {
      replace(error, 'Enter the e-mail and password of a superuser.');
      return;
    }
    button.disabled = true;
    try {
      const res = await api('POST', '/api/collections/_superusers/auth-with-password',
        { identity: email.value, password: password.value }, { anonymous: true });
      session.set(res.token, (res.record && res.record.email) || email.value);
      onSignedIn();
    } catch (err) {
      replace(error, err.message);
      button.disabled = false;
    }
  });
  replace(main, form);
  (email.value ? password : email).focus();
}
