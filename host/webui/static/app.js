// app.js: starts the page: sign-in or the signed-in shell with its two
// screens (#/backups, #/settings), the status area, and the return to
// sign-in when the API refuses the token.
import { api, session, onExpired } from './api.js';
import { replace } from './dom.js';
import { Status } from './status.js';
import * as login from './login.js';
import * as backups from './backups.js';
import * as settings from './settings.js';

const main = document.getElementById('main');
const top = document.getElementById('top');
const status = new Status(document.getElementById('status-area'));
let unmount = () => {};

function showLogin(message) {
  unmount();
  unmount = () => {};
  status.stop();
  top.hidden = true;
  document.title = 'Sign in · Backups';
  login.render(main, { message, onSignedIn: showApp });
}

function showApp() {
  if (!session.token) { showLogin(''); return; }
  top.hidden = false;
  replace(document.getElementById('who-email'), session.email);
  if (!status.active) status.start();
  route();
}

function route() {
  if (!session.token) return;
  unmount();
  const onSettings = location.hash === '#/settings';
  for (const [id, on] of [['nav-backups', !onSettings], ['nav-settings', onSettings]]) {
    const a = document.getElementById(id);
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.title = (onSettings ? 'Settings' : 'Backups') + ' · Backups';
  unmount = onSettings ? settings.render(main) : backups.render(main, status);
}

const AFTER_RESTORE = 'The app restarted with the restored data. Sign in again: the superusers are now those of the backup.';

onExpired((message) => showLogin(status.restore ? AFTER_RESTORE : message));

document.getElementById('sign-out').addEventListener('click', () => {
  session.clear();
  status.forget();
  showLogin('You are signed out.');
});

window.addEventListener('hashchange', () => {
  route();
  if (session.token) main.focus();
});

// A stored token is checked (and renewed) before the screens use it.
async function boot() {
  if (!session.token) { showLogin(''); return; }
  try {
    const res = await api('POST', '/api/collections/_superusers/auth-refresh');
    session.set(res.token, (res.record && res.record.email) || session.email);
  } catch (err) {
    if (err.status === 401) return; // api() has shown the sign-in
    if (err.status !== 0) { showLogin(err.message); return; }
  }
  showApp();
}

boot();
