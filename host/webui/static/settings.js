// settings.js: the settings screen: scheduled backups (cron with presets,
// UTC, how many to keep or retention rules with a live preview of what
// rotation would delete, the next run) and S3 storage (the secret is never
// shown back; left empty, the stored one is kept) with a connection test.
import { api, fieldMessage } from './api.js';
import { h, replace, parseDate, localTime, utcTime } from './dom.js';

const AUTO_JOB = '__pbAutoBackup__';
// The retention rules (settings backups.retention), as the API names them.
const RULES = [
  ['keepLast', 'Newest'],
  ['keepDaily', 'Days'],
  ['keepWeekly', 'Weeks'],
  ['keepMonthly', 'Months'],
];
const PRESETS = [
  ['Every day at 00:00', '0 0 * * *'],
  ['Sundays at 00:00', '0 0 * * 0'],
  ['Mondays and Wednesdays at 00:00', '0 0 * * 1,3'],
  ['The first of the month at 00:00', '0 0 1 * *'],
];

export function render(main) {
  const screen = new SettingsScreen(main);
  screen.mount();
  return () => {};
}

// field is a labelled input with a slot for its error.
function field(id, label, input, hint) {
  const err = h('p', { class: 'error', id: id + '-error', role: 'alert' });
  input.id = id;
  input.setAttribute('aria-describedby', [hint ? id + '-hint' : '', id + '-error'].join(' ').trim());
  return {
    input, err,
    el: h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null, err),
  };
}

function checkbox(id, label) {
  const input = h('input', { id, type: 'checkbox' });
  return { input, el: h('div', { class: 'check' }, input, h('label', { for: id }, label)) };
}

class SettingsScreen {
  constructor(main) { this.main = main; }

  mount() {
    this.schedOn = checkbox('sched-enabled', 'Back up on a schedule');
    this.cron = field('sched-cron', 'Cron expression (minute hour day month weekday)', h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' }), 'Times are in UTC.');
    this.keep = field('sched-keep', 'How many scheduled backups to keep', h('input', { type: 'number', min: '1', step: '1', inputmode: 'numeric' }), 'Older automatic backups beyond this number are deleted. Other backups are never touched.');
    const presets = h('div', { class: 'presets', role: 'group', 'aria-label': 'Presets' },
      PRESETS.map(([label, expr]) => h('button', {
        type: 'button', class: 'secondary small', 'data-cron': expr,
        onclick: () => { this.cron.input.value = expr; this.schedOn.input.checked = true; this.syncSchedule(); this.cron.input.focus(); },
      }, label)));
    this.nextRun = h('p', { id: 'next-run', class: 'next-run', role: 'status' });
    this.rules = RULES.map(([name, label]) => {
      const f = field('ret-' + name, label, h('input', { type: 'number', min: '0', step: '1', inputmode: 'numeric' }));
      f.name = name;
      f.input.addEventListener('input', () => this.previewSoon());
      return f;
    });
    const retentionBlock = h('fieldset', { class: 'retention-rules', 'aria-describedby': 'ret-hint' },
      h('legend', null, 'Retention (optional)'),
      h('p', { class: 'hint', id: 'ret-hint' }, 'Keep the N newest, and the newest backup of each of the last N days, weeks and months that have one (UTC). When any is above 0, these replace "how many to keep". Pinned backups are always kept.'),
      h('div', { class: 'rule-grid' }, this.rules.map((f) => f.el)));
    this.keep.input.addEventListener('input', () => this.previewSoon());
    this.retention = h('div', { id: 'retention-preview', 'aria-live': 'polite' });
    this.schedMsg = h('p', { id: 'sched-message', role: 'status', class: 'message' });
    this.schedBtn = h('button', { type: 'submit', id: 'sched-save' }, 'Save schedule');
    this.cronBlock = h('div', { class: 'cron-block' }, this.cron.el, presets, this.keep.el, retentionBlock, this.retention);
    this.schedOn.input.addEventListener('change', () => this.syncSchedule());
    const schedForm = h('form', { id: 'sched-form', class: 'card', 'aria-labelledby': 'sched-title', 'aria-busy': 'true', novalidate: true },
      h('h2', { id: 'sched-title' }, 'Scheduled backups'),
      this.schedOn.el, this.cronBlock, this.nextRun, this.schedMsg,
      h('div', { class: 'actions' }, this.schedBtn));
    schedForm.addEventListener('submit', (e) => { e.preventDefault(); this.saveSchedule(); });

    this.s3On = checkbox('s3-enabled', 'Store backups in S3-compatible storage');
    this.endpoint = field('s3-endpoint', 'Endpoint', h('input', { type: 'url', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://s3.example.com' }));
    this.bucket = field('s3-bucket', 'Bucket', h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' }));
    this.region = field('s3-region', 'Region', h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' }));
    this.accessKey = field('s3-access-key', 'Access key', h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' }));
    this.secret = field('s3-secret', 'Secret', h('input', { type: 'password', autocomplete: 'new-password' }), 'Never shown. Leave empty to keep the stored secret.');
    this.pathStyle = checkbox('s3-path-style', 'Force path-style addressing (MinIO, Ceph and most self-hosted stores)');
    this.s3Msg = h('div', { id: 's3-message', role: 'status', class: 'message' });
    this.s3Btn = h('button', { type: 'submit', id: 's3-save' }, 'Save storage');
    this.testBtn = h('button', { type: 'button', id: 's3-test', class: 'secondary', onclick: () => this.testS3() }, 'Test connection');
    const s3Form = h('form', { id: 's3-form', class: 'card', 'aria-labelledby': 's3-title', 'aria-busy': 'true', novalidate: true },
      h('h2', { id: 's3-title' }, 'Backups storage'),
      this.s3On.el, this.endpoint.el, this.bucket.el, this.region.el, this.accessKey.el, this.secret.el, this.pathStyle.el,
      this.s3Msg, h('div', { class: 'actions' }, this.testBtn, this.s3Btn));
    s3Form.addEventListener('submit', (e) => { e.preventDefault(); this.saveS3(); });

    this.forms = [schedForm, s3Form];
    this.loadMsg = h('p', { class: 'hint', role: 'status' }, 'Loading settings…');
    replace(this.main, h('h1', { class: 'visually-hidden' }, 'Settings'), this.loadMsg, h('div', { class: 'grid' }, schedForm, s3Form));
    this.load();
  }

  syncSchedule() {
    this.cronBlock.hidden = !this.schedOn.input.checked;
  }

  async load() {
    try {
      const s = await api('GET', '/api/settings');
      this.fill(s);
      replace(this.loadMsg);
      for (const f of this.forms) f.setAttribute('aria-busy', 'false');
    } catch (err) {
      if (err.status !== 401) replace(this.loadMsg, err.message);
      return;
    }
    await Promise.all([this.loadNextRun(), this.loadRetention()]);
  }

  fill(s) {
    const b = (s && s.backups) || {};
    const s3 = b.s3 || {};
    this.schedOn.input.checked = Boolean(b.cron);
    this.cron.input.value = b.cron || '0 0 * * *';
    this.keep.input.value = String(b.cronMaxKeep || 3);
    const r = b.retention || {};
    for (const f of this.rules) f.input.value = String(Number(r[f.name]) || 0);
    this.syncSchedule();
    this.s3On.input.checked = Boolean(s3.enabled);
    this.endpoint.input.value = s3.endpoint || '';
    this.bucket.input.value = s3.bucket || '';
    this.region.input.value = s3.region || '';
    this.accessKey.input.value = s3.accessKey || '';
    this.secret.input.value = '';
    this.pathStyle.input.checked = Boolean(s3.forcePathStyle);
  }

  async loadNextRun() {
    let jobs;
    try { jobs = await api('GET', '/api/crons'); } catch { return; }
    const job = Array.isArray(jobs) ? jobs.find((j) => j.id === AUTO_JOB) : null;
    const next = job && parseDate(job.next);
    if (!job) {
      replace(this.nextRun, 'No backup is scheduled.');
    } else if (next) {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'your time zone';
      replace(this.nextRun, 'Next run: ', h('strong', null, utcTime(next)), ` (${localTime(next)} in ${zone})`);
    } else {
      replace(this.nextRun, 'Scheduled: ', h('code', null, job.expression), ' (UTC).');
    }
  }

  // retentionBody is the retention rule in the inputs: null when every
  // count is 0 (cronMaxKeep then applies). Counts that are not whole
  // numbers are sent as typed, for the API to name them.
  retentionBody() {
    const out = {};
    let any = false;
    for (const f of this.rules) {
      const v = f.input.value.trim();
      const n = v === '' ? 0 : Number(v);
      out[f.name] = Number.isFinite(n) ? n : v;
      if (n !== 0) any = true;
    }
    return any ? out : null;
  }

  previewSoon() {
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => this.loadRetention(), 300);
  }

  // loadRetention shows what a rotation run would keep and delete among
  // the scheduled backups under the rule in the inputs (saved or not).
  async loadRetention() {
    const q = new URLSearchParams();
    const rule = this.retentionBody();
    if (rule) for (const [k, v] of Object.entries(rule)) q.set(k, String(v));
    else q.set('cronMaxKeep', this.keep.input.value.trim() || '0');
    const seq = (this.previewSeq = (this.previewSeq || 0) + 1);
    let p;
    try {
      p = await api('GET', '/api/backups/retention-preview?' + q.toString());
    } catch (err) {
      if (seq !== this.previewSeq || err.status === 401) return;
      const bad = Object.keys(err.data || {});
      replace(this.retention, h('p', { class: 'error', id: 'retention-error' }, err.message, bad.length ? ` (${bad.join(', ')})` : ''));
      return;
    }
    if (seq !== this.previewSeq) return;
    const keep = Array.isArray(p && p.keep) ? p.keep : [];
    const del = Array.isArray(p && p.delete) ? p.delete : [];
    const item = (b) => {
      const d = parseDate(b.modified);
      return h('li', null, h('span', { class: 'name' }, String(b.key)), d ? [' ', h('span', { class: 'hint' }, utcTime(d))] : null,
        b.pinned === true ? h('span', { class: 'badge pin' }, 'Pinned') : null);
    };
    const ruleText = rule ? 'with these retention rules' : `keeping the newest ${this.keep.input.value.trim() || 0}`;
    replace(this.retention, h('div', { class: 'retention' },
      h('h3', null, 'Retention preview'),
      h('p', { id: 'retention-summary' }, `If the scheduled backups were rotated now, ${ruleText}: ${del.length} deleted, ${keep.length} kept.`),
      del.length ? [h('h4', null, 'Would be deleted'), h('ul', { id: 'retention-delete' }, del.map(item))] : null,
      keep.length ? h('details', null, h('summary', null, `Kept (${keep.length})`), h('ul', { id: 'retention-keep' }, keep.map(item))) : null,
    ));
  }

  clearErrors(fields) { for (const f of fields) { replace(f.err); f.input.removeAttribute('aria-invalid'); } }

  showErrors(err, pairs) {
    let any = false;
    for (const [f, path] of pairs) {
      const m = fieldMessage(err, path);
      if (m) { replace(f.err, m); f.input.setAttribute('aria-invalid', 'true'); any = true; }
    }
    return any;
  }

  async saveSchedule() {
    if (this.schedBtn.disabled) return;
    this.clearErrors([this.cron, this.keep, ...this.rules]);
    replace(this.schedMsg);
    const on = this.schedOn.input.checked;
    const keep = Number.parseInt(this.keep.input.value, 10);
    const body = { backups: { cron: on ? this.cron.input.value.trim() : '', cronMaxKeep: Number.isFinite(keep) ? keep : 0, retention: this.retentionBody() } };
    this.schedBtn.disabled = true;
    try {
      const s = await api('PATCH', '/api/settings', body);
      this.fill(s);
      replace(this.schedMsg, on ? 'Schedule saved.' : 'Scheduled backups are off.');
      await Promise.all([this.loadNextRun(), this.loadRetention()]);
    } catch (err) {
      this.showErrors(err, [[this.cron, ['backups', 'cron']], [this.keep, ['backups', 'cronMaxKeep']],
        ...this.rules.map((f) => [f, ['backups', 'retention', f.name]])]);
      replace(this.schedMsg, h('span', { class: 'error' }, err.message));
    } finally {
      this.schedBtn.disabled = false;
    }
  }

  s3Body() {
    const s3 = {
      enabled: this.s3On.input.checked,
      endpoint: this.endpoint.input.value.trim(),
      bucket: this.bucket.input.value.trim(),
      region: this.region.input.value.trim(),
      accessKey: this.accessKey.input.value.trim(),
      forcePathStyle: this.pathStyle.input.checked,
    };
    if (this.secret.input.value) s3.secret = this.secret.input.value;
    return { backups: { s3 } };
  }

  s3Fields() {
    return [[this.endpoint, ['backups', 's3', 'endpoint']], [this.bucket, ['backups', 's3', 'bucket']],
      [this.region, ['backups', 's3', 'region']], [this.accessKey, ['backups', 's3', 'accessKey']],
      [this.secret, ['backups', 's3', 'secret']]];
  }

  async saveS3() {
    if (this.s3Btn.disabled) return;
    this.clearErrors(this.s3Fields().map(([f]) => f));
    replace(this.s3Msg);
    this.s3Btn.disabled = true;
    try {
      const s = await api('PATCH', '/api/settings', this.s3Body());
      this.fill(s);
      replace(this.s3Msg, h('p', { class: 'notice' }, 'Storage settings saved.'));
    } catch (err) {
      this.showErrors(err, this.s3Fields());
      replace(this.s3Msg, h('p', { class: 'error' }, err.message));
    } finally {
      this.s3Btn.disabled = false;
    }
  }

  async testS3() {
    if (this.testBtn.disabled) return;
    this.clearErrors(this.s3Fields().map(([f]) => f));
    replace(this.s3Msg, h('p', { class: 'hint' }, 'Testing the connection…'));
    this.testBtn.disabled = true;
    try {
      await api('POST', '/api/settings/test/s3', { filesystem: 'backups', ...this.s3Body() });
      replace(this.s3Msg, h('p', { class: 'notice', id: 's3-test-ok' }, 'Connection works: a test object was written, read back and deleted.'));
    } catch (err) {
      this.showErrors(err, this.s3Fields());
      replace(this.s3Msg, h('p', { class: 'error', id: 's3-test-error' }, err.message));
    } finally {
      this.testBtn.disabled = false;
    }
  }
}
