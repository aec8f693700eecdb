// backups.js: the backups screen: create, upload, and the list (newest
// first) with download, restore (optionally after a pre-restore backup),
// delete, and each backup's digest, last verification, pin and encryption,
// with Verify (quick or deep) and Pin/Unpin.
import { api, upload, backupPath, fieldMessage } from './api.js';
import { h, replace, size, parseDate, timeEl } from './dom.js';
import { confirmAction, ask } from './dialogs.js';

// The create route's name rule (the contract's), checked before sending.
const NAME_RE = /^[a-z0-9_-]+\.zip$/;
const NAME_MAX = 150;
export const NAME_RULE = 'Lowercase letters a–z, digits, "_" and "-", ending in ".zip"; at most 150 characters. Leave empty for an automatic name.';

// nameProblem is why name breaks the rule, or "".
export function nameProblem(name) {
  if (name === '') return '';
  if (name.length > NAME_MAX) return 'The name is longer than 150 characters.';
  if (!NAME_RE.test(name)) return 'The name must use only a–z, 0–9, "_" and "-", and end in ".zip".';
  return '';
}

export function render(main, status) {
  const screen = new BackupsScreen(main, status);
  screen.mount();
  return () => screen.unmount();
}

class BackupsScreen {
  constructor(main, status) {
    this.main = main;
    this.status = status;
    this.items = null;
    this.loading = false;
    this.message = h('div', { id: 'backups-message', role: 'status', class: 'message' });
    this.openDigests = new Set(); // keys whose full digest is shown, kept across reloads
    this.waitingNote = false; // the message says an operation is under way
  }

  mount() {
    const nameInput = h('input', {
      id: 'backup-name', type: 'text', name: 'name', autocomplete: 'off', spellcheck: 'false',
      autocapitalize: 'off', maxlength: NAME_MAX + 10, 'aria-describedby': 'backup-name-rule backup-name-error',
      placeholder: 'pb_backup_….zip',
    });
    const nameError = h('p', { id: 'backup-name-error', class: 'error', role: 'alert' });
    nameInput.addEventListener('input', () => {
      const p = nameProblem(nameInput.value);
      nameInput.setAttribute('aria-invalid', p ? 'true' : 'false');
      replace(nameError, p);
    });
    this.createBtn = h('button', { type: 'submit', id: 'create-backup' }, 'Create backup');
    const createForm = h('form', { class: 'card', 'aria-labelledby': 'create-title', novalidate: true },
      h('h2', { id: 'create-title' }, 'New backup'),
      h('label', { for: 'backup-name' }, 'Backup name (optional)'),
      nameInput,
      h('p', { id: 'backup-name-rule', class: 'hint' }, NAME_RULE),
      nameError,
      h('div', { class: 'actions' }, this.createBtn),
    );
    createForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.create(nameInput, nameError);
    });

    const fileInput = h('input', { id: 'upload-file', type: 'file', name: 'file', accept: '.zip,application/zip', 'aria-describedby': 'upload-hint' });
    this.uploadBtn = h('button', { type: 'submit', id: 'upload-backup' }, 'Upload');
    const uploadForm = h('form', { class: 'card', 'aria-labelledby': 'upload-title', novalidate: true },
      h('h2', { id: 'upload-title' }, 'Upload a backup'),
      h('label', { for: 'upload-file' }, 'Backup file (.zip)'),
      fileInput,
      h('p', { id: 'upload-hint', class: 'hint' }, 'A zip made by this app or by PocketBase. Its file name becomes the backup\'s name.'),
      h('div', { class: 'actions' }, this.uploadBtn),
    );
    uploadForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.upload(fileInput);
    });

    this.refreshBtn = h('button', { type: 'button', id: 'refresh', class: 'secondary', onclick: () => this.load() }, 'Refresh');
    this.list = h('div', { id: 'backup-list', 'aria-live': 'polite', 'aria-busy': 'false' });
    const listSection = h('section', { class: 'card', 'aria-labelledby': 'list-title' },
      h('div', { class: 'row' }, h('h2', { id: 'list-title' }, 'Backups'), this.refreshBtn),
      this.list,
    );
    replace(this.main, h('h1', { class: 'visually-hidden' }, 'Backups'), this.message, listSection, h('div', { class: 'grid' }, createForm, uploadForm));
    this.unsubscribe = this.status.subscribe((ev) => {
      this.syncBusy();
      if (ev === 'done') {
        if (this.waitingNote) this.say('');
        this.load();
      }
    });
    this.syncBusy();
    this.load();
  }

  unmount() { if (this.unsubscribe) this.unsubscribe(); }

  syncBusy() {
    const busy = this.status.busy;
    this.createBtn.setAttribute('aria-disabled', busy ? 'true' : 'false');
    for (const b of this.main.querySelectorAll('button[data-op]')) b.setAttribute('aria-disabled', busy ? 'true' : 'false');
  }

  say(text, isError, waiting) {
    this.waitingNote = Boolean(waiting);
    replace(this.message, text ? h('p', { class: isError ? 'error' : 'notice' }, text) : null);
    this.message.setAttribute('role', isError ? 'alert' : 'status');
  }

  // refuse tells the person an operation already runs; true when it does.
  refuse() {
    if (!this.status.busy) return false;
    this.say('Another backup or restore is running. Wait for it to finish.', true);
    return true;
  }

  async load() {
    if (this.loading) return;
    this.loading = true;
    this.list.setAttribute('aria-busy', 'true');
    if (this.items === null) replace(this.list, h('p', { class: 'hint', id: 'list-loading' }, 'Loading backups…'));
    this.refreshBtn.disabled = true;
    try {
      const items = await api('GET', '/api/backups');
      this.items = Array.isArray(items) ? items : [];
      this.items.sort((a, b) => String(b.modified).localeCompare(String(a.modified)) || String(a.key).localeCompare(String(b.key)));
      this.renderList();
    } catch (err) {
      if (err.status !== 401) replace(this.list, h('p', { class: 'error', role: 'alert' }, err.message));
    } finally {
      this.loading = false;
      this.refreshBtn.disabled = false;
      this.list.setAttribute('aria-busy', 'false');
    }
  }

  renderList() {
    if (!this.items.length) {
      replace(this.list, h('p', { class: 'empty', id: 'list-empty' }, 'No backups yet. Create one or upload a zip.'));
      return;
    }
    const ul = h('ul', { class: 'backups' });
    this.items.forEach((item, i) => ul.append(this.renderItem(item, i)));
    replace(this.list, ul);
    this.syncBusy();
  }

  renderItem(item, i) {
    const nameId = `backup-${i}-name`;
    const key = String(item.key);
    const pinned = item.pinned === true;
    const d = parseDate(item.modified);
    const btn = (label, cls, op, fn) => h('button', {
      type: 'button', class: cls, 'data-op': op || null, 'aria-describedby': nameId, onclick: fn,
    }, label);
    const meta = [h('span', { class: 'size' }, size(Number(item.size)))];
    if (d) meta.push(' · ', timeEl(d));
    const badges = [];
    if (pinned) badges.push(h('span', { class: 'badge pin' }, 'Pinned'));
    if (item.encrypted === true) badges.push(h('span', { class: 'badge enc' }, 'Encrypted'));
    const actions = [
      btn('Download', 'secondary', null, () => this.download(key)),
      btn('Restore', 'secondary', 'restore', () => this.restore(key)),
      btn('Verify', 'secondary', 'verify', () => this.verify(key)),
      btn(pinned ? 'Unpin' : 'Pin', 'secondary', null, () => this.pin(key, !pinned)),
      btn('Delete', 'danger', null, () => this.remove(key, pinned)),
    ];
    return h('li', { class: 'backup' + (pinned ? ' pinned' : '') },
      h('div', { class: 'backup-main' },
        h('span', { class: 'name', id: nameId }, key), badges.length ? [' ', badges] : null,
        h('div', { class: 'meta' }, meta),
        this.digestEl(key, item), verifyEl(item)),
      h('div', { class: 'actions' }, actions));
  }

  // digestEl is a backup's SHA-256 (recorded when it was stored): short,
  // the whole of it one click away.
  digestEl(key, item) {
    const sum = typeof item.sha256 === 'string' ? item.sha256 : '';
    if (!sum) return null;
    const d = h('details', { class: 'digest', open: this.openDigests.has(key) },
      h('summary', { title: sum }, 'SHA-256 ', h('code', null, sum.slice(0, 12) + '…')),
      h('code', { class: 'digest-full' }, sum));
    d.addEventListener('toggle', () => { if (d.open) this.openDigests.add(key); else this.openDigests.delete(key); });
    return d;
  }

  async create(nameInput, nameError) {
    const name = nameInput.value.trim();
    const problem = nameProblem(name);
    if (problem) {
      replace(nameError, problem);
      nameInput.focus();
      return;
    }
    if (this.refuse()) return;
    this.status.begin('create', name);
    this.syncBusy();
    try {
      await api('POST', '/api/backups', name ? { name } : {});
      nameInput.value = '';
      this.say(name ? `Creating ${name}…` : 'Creating a backup…', false, true);
    } catch (err) {
      this.status.pending = null;
      this.status.render();
      const field = fieldMessage(err, ['name']);
      if (field) replace(nameError, field);
      this.say(err.message, true);
    }
    this.syncBusy();
  }

  async upload(fileInput) {
    const file = fileInput.files && fileInput.files[0];
    if (!file) {
      this.say('Choose a .zip file to upload.', true);
      fileInput.focus();
      return;
    }
    if (this.uploading) {
      this.say('An upload is already running.', true);
      return;
    }
    this.uploading = true;
    this.uploadBtn.disabled = true;
    this.status.uploading({ name: file.name, sent: 0, total: file.size });
    try {
      await upload(file, (sent, total) => this.status.uploading({ name: file.name, sent, total }));
      fileInput.value = '';
      this.say(`Uploaded ${file.name}.`);
      await this.load();
    } catch (err) {
      const field = fieldMessage(err, ['file']);
      this.say(field && field !== err.message ? `${err.message} ${field}` : err.message, true);
    } finally {
      this.uploading = false;
      this.uploadBtn.disabled = false;
      this.status.uploading(null);
    }
  }

  async download(key) {
    try {
      const res = await api('POST', '/api/files/token');
      const a = h('a', { href: backupPath(key) + '?token=' + encodeURIComponent(res.token), download: key, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (err) {
      this.say(err.message, true);
    }
  }

  async remove(key, pinned) {
    const ok = await confirmAction({
      title: 'Delete backup',
      message: `Delete ${key}? This cannot be undone.` + (pinned ? ' It is pinned: the app keeps it until it is unpinned.' : ''),
      confirmLabel: 'Delete', danger: true,
    });
    if (!ok) return;
    try {
      await api('DELETE', backupPath(key));
      this.say(`Deleted ${key}.`);
      await this.load();
    } catch (err) {
      this.say(err.message, true);
    }
  }

  async restore(key) {
    if (this.refuse()) return;
    // The pre-restore backup's default is the app's setting.
    let preDefault = false;
    try {
      const s = await api('GET', '/api/settings');
      preDefault = Boolean(s && s.backups && s.backups.preRestoreBackup);
    } catch (err) {
      if (err.status === 401) return;
    }
    const answer = await ask({
      title: 'Restore backup',
      message: `Replace the app's data with ${key}? The app restarts; changes made since the backup are lost, and the superusers become those of the backup.`,
      confirmLabel: 'Restore', danger: true, typed: key,
      checks: [{
        name: 'preRestoreBackup', checked: preDefault, label: 'Back up the current data first',
        hint: 'Saved as @pre_restore_<UTC time>.zip before the app stops; if that backup fails, nothing is restored.',
      }],
    });
    if (!answer || this.refuse()) return;
    this.status.followRestore(key);
    this.syncBusy();
    try {
      await api('POST', backupPath(key, '/restore'), { preRestoreBackup: answer.preRestoreBackup });
      this.say(`Restoring ${key}…`, false, true);
    } catch (err) {
      this.status.pending = null;
      this.status.restore = null;
      this.status.render();
      this.say(err.message, true);
    }
    this.syncBusy();
  }

  async verify(key) {
    if (this.refuse()) return;
    const answer = await ask({
      title: 'Verify backup',
      message: `Check that ${key} is whole and restorable. Nothing is changed, and the app keeps working meanwhile.`,
      confirmLabel: 'Verify',
      choice: {
        legend: 'How thoroughly', name: 'mode', value: 'quick', options: [
          { value: 'quick', label: 'Quick', hint: 'Reads the backup once: its SHA-256, the zip\'s structure and every entry\'s checksum.' },
          { value: 'deep', label: 'Deep', hint: 'Quick, then extracts it to scratch space and runs SQLite\'s integrity check on every database.' },
        ],
      },
    });
    if (!answer || this.refuse()) return;
    this.status.begin('verify', key);
    this.syncBusy();
    try {
      await api('POST', backupPath(key, '/verify'), { mode: answer.mode });
      this.say(`Verifying ${key} (${answer.mode})…`, false, true);
    } catch (err) {
      this.status.pending = null;
      this.status.render();
      this.say(err.message, true);
    }
    this.syncBusy();
  }

  async pin(key, pinned) {
    try {
      await api('PATCH', backupPath(key), { pinned });
      this.say(pinned ? `Pinned ${key}: it is never rotated and cannot be deleted until unpinned.` : `Unpinned ${key}.`);
      await this.load();
    } catch (err) {
      this.say(err.message, true);
    }
  }
}

// verifyEl is the last verification of a backup: ok, or what was wrong,
// and when.
function verifyEl(item) {
  const at = parseDate(item.verifiedAt);
  const verdict = typeof item.verify === 'string' ? item.verify : '';
  if (!verdict) return h('div', { class: 'verify none' }, 'Not verified yet.');
  const when = at ? [' ', timeEl(at)] : null;
  if (verdict === 'ok') {
    return h('div', { class: 'verify ok' }, h('span', { class: 'verdict' }, 'Verified: ok'), when,
      item.verifyFirstSeen ? h('span', { class: 'hint' }, ' (first seen then, not proven since creation)') : null);
  }
  return h('div', { class: 'verify bad' }, h('span', { class: 'verdict' }, 'Verification failed: ', verdict), when);
}
