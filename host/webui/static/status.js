// status.js: what the app is doing, from GET /api/health. It shows the
// running operation as a progress bar (bytes done of total, rate), the
// last operation's outcome as a banner, and, during a restore, follows the
// app through its restart: it keeps asking until the API answers again and
// tells how long it was down. Screens ask it whether an operation runs, so
// a second click is refused before the server has to.
import { api, session } from './api.js';
import { h, replace, size, duration, parseDate, localTime } from './dom.js';

const IDLE_MS = 4000;
const BUSY_MS = 400;
const DOWN_MS = 250;
const DISMISSED_KEY = 'pocketbackup.dismissed';

const VERBS = { create: 'Creating backup', restore: 'Restoring backup', verify: 'Verifying backup', upload: 'Uploading' };
const DONE = { create: 'Backup created', restore: 'Backup restored', verify: 'Backup verified' };
const FAILED = { create: 'Backup failed', restore: 'Restore failed', verify: 'Verification failed' };

// outcomeId tells outcomes apart.
function outcomeId(o) { return o ? [o.kind, o.key, o.finished].join('|') : ''; }

export class Status {
  constructor(area) {
    this.area = area;
    this.listeners = new Set();
    this.running = null; // the API's operation
    this.last = null; // the API's lastOperation
    this.pending = null; // an operation this page started and has not seen end
    this.finished = null; // the pending one, once ended: the bar stays full
    this.restore = null; // {key, downSince, downMs, sawDown}
    this.samples = [];
    this.timer = 0;
    this.active = false;
    this.upload = null; // {name, sent, total}
    this.progressId = 'op-progress';
    this.bar = h('section', { class: 'progress-box', 'aria-label': 'Running operation', hidden: true });
    this.banner = h('div', { class: 'banner-box' });
    this.freshness = h('div', { class: 'freshness-box' });
    replace(area, this.freshness, this.bar, this.banner);
  }

  // busy reports whether an operation runs or this page is starting one.
  get busy() { return Boolean(this.running || this.pending || this.restore); }

  subscribe(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }

  emit(event) { for (const fn of this.listeners) fn(event); }

  start() {
    this.active = true;
    this.poll();
  }

  // stop ends polling (at sign-out or when the token is refused). A
  // restore being followed is kept: after the restart the app may want a
  // new sign-in, and the page then goes on following it.
  stop() {
    this.active = false;
    clearTimeout(this.timer);
    this.running = this.last = this.finished = null;
    if (!this.restore) this.pending = null;
    else this.restore.lastUp = 0; // no gap counted across a sign-in
    this.bar.hidden = true;
    this.shown = null;
    this.freshShown = null;
    replace(this.banner);
    replace(this.freshness);
  }

  // forget drops everything, a followed restore too (sign-out).
  forget() {
    this.stop();
    this.pending = this.restore = this.restoreDone = null;
  }

  // begin records that this page started an operation (the server answered
  // 204); polling speeds up until it ends.
  begin(kind, key) {
    this.pending = { kind, key, lastBefore: outcomeId(this.last) };
    this.finished = null;
    this.samples = [];
    this.render();
    this.emit('busy');
    this.schedule(0);
  }

  // followRestore is begin for a restore: the app will restart.
  followRestore(key) {
    this.restore = { key, downSince: 0, downMs: 0, sawDown: false };
    this.begin('restore', key);
  }

  // uploading shows an upload's progress (null when it ends).
  uploading(u) {
    this.upload = u;
    this.render();
  }

  schedule(ms) {
    clearTimeout(this.timer);
    if (this.active) this.timer = setTimeout(() => this.poll(), ms);
  }

  async poll() {
    if (!this.active) return;
    let data;
    try {
      const res = await api('GET', '/api/health');
      data = (res && res.data) || {};
    } catch (e) {
      if (e.status === 0 && this.restore) {
        if (!this.restore.downSince) this.restore.downSince = Date.now();
        this.restore.sawDown = true;
        this.render();
        this.schedule(DOWN_MS);
        return;
      }
      this.schedule(this.busy ? BUSY_MS : IDLE_MS);
      return;
    }
    if (!this.active) return;
    if (this.restore) {
      // Without a refused request seen, the longest gap between two
      // answers bounds how long the API was down.
      const now = Date.now();
      const r = this.restore;
      if (r.lastUp) r.maxGap = Math.max(r.maxGap || 0, now - r.lastUp);
      r.lastUp = now;
      if (r.downSince) {
        r.downMs += now - r.downSince;
        r.downSince = 0;
      }
    }
    if (!('canBackup' in data)) {
      // The token is no longer a superuser's (expired, or a restore
      // brought back other superusers): this request fails with 401 and
      // api() returns to sign-in.
      if (session.token) {
        try { await api('POST', '/api/collections/_superusers/auth-refresh'); } catch { /* handled by api() */ }
      }
      this.schedule(this.busy ? BUSY_MS : IDLE_MS);
      return;
    }
    if (this.restore && !this.restore.lastUp) this.restore.lastUp = Date.now();
    const wasBusy = this.busy;
    this.running = data.operation || null;
    this.last = data.lastOperation || null;
    this.renderFreshness(data);
    if (this.running) this.sample(this.running);
    if (this.pending && !this.running && outcomeId(this.last) !== this.pending.lastBefore) {
      this.finished = { ...this.pending, ok: Boolean(this.last && this.last.ok) };
      this.pending = null;
      if (this.restore) this.restoreDone = this.restore;
      this.restore = null;
    } else if (this.pending && this.running && this.running.kind !== this.pending.kind) {
      // Someone else's operation runs; ours was refused or already ended.
      this.pending = null;
    }
    this.render();
    if (wasBusy && !this.busy) this.emit('done');
    else if (!wasBusy && this.busy) this.emit('busy');
    this.schedule(this.restore ? DOWN_MS : this.busy ? BUSY_MS : IDLE_MS);
  }

  sample(op) {
    const s = this.samples;
    if (s.length && s[0].key !== op.key) s.length = 0;
    s.push({ key: op.key, t: performance.now(), done: op.bytesDone || 0 });
    while (s.length > 2 && s[s.length - 1].t - s[0].t > 5000) s.shift();
  }

  rate() {
    const s = this.samples;
    if (s.length < 2) return 0;
    const a = s[0];
    const b = s[s.length - 1];
    return b.t > a.t ? ((b.done - a.done) * 1000) / (b.t - a.t) : 0;
  }

  render() {
    this.renderBar();
    this.renderBanner();
  }

  renderBar() {
    const op = this.running;
    let label = '';
    let progress;
    if (this.upload) {
      const u = this.upload;
      const pct = u.total ? Math.floor((u.sent * 100) / u.total) : 0;
      label = `Uploading ${u.name}: ${size(u.sent)} of ${size(u.total)} (${pct}%)`;
      progress = h('progress', { id: this.progressId, max: u.total || 1, value: u.sent, 'aria-label': 'Upload progress' });
    } else if (this.restore && this.restore.sawDown && !op) {
      const down = this.restore.downMs + (this.restore.downSince ? Date.now() - this.restore.downSince : 0);
      label = `The app is restarting with the restored data. Reconnecting… (API down for ${duration(down)})`;
      progress = h('progress', { id: this.progressId, 'aria-label': 'Restart progress' });
    } else if (op) {
      const verb = VERBS[op.kind] || op.kind;
      const total = op.bytesTotal || 0;
      const done = op.bytesDone || 0;
      const r = this.rate();
      label = `${verb} ${op.key}: ` + (total
        ? `${size(done)} of ${size(total)} (${Math.floor((done * 100) / total)}%)`
        : `${size(done)}`) + (r > 0 ? `, ${size(r)}/s` : '');
      progress = total
        ? h('progress', { id: this.progressId, max: total, value: Math.min(done, total), 'aria-label': 'Operation progress' })
        : h('progress', { id: this.progressId, 'aria-label': 'Operation progress' });
    } else if (this.pending) {
      label = `${VERBS[this.pending.kind] || this.pending.kind}${this.pending.key ? ' ' + this.pending.key : ''}: starting…`;
      progress = h('progress', { id: this.progressId, 'aria-label': 'Operation progress' });
    } else if (this.finished && this.finished.ok) {
      label = `${DONE[this.finished.kind] || 'Done'}: ${this.last ? this.last.key : ''}`;
      progress = h('progress', { id: this.progressId, max: 1, value: 1, 'aria-label': 'Operation progress' });
    } else {
      this.bar.hidden = true;
      replace(this.bar);
      return;
    }
    this.bar.hidden = false;
    replace(this.bar, h('p', { class: 'progress-label', role: 'status' }, label), progress);
  }

  // renderFreshness shows the newest good backup and, when the app says
  // so, that backups are stale or the next one may not fit.
  renderFreshness(data) {
    const lg = parseDate(data.lastGoodBackup);
    const warn = typeof data.diskWarning === 'string' ? data.diskWarning : '';
    const key = [data.lastGoodBackup, data.stale, warn].join('|');
    if (key === this.freshShown) return;
    this.freshShown = key;
    const lines = [];
    if (data.stale === true) {
      lines.push(h('p', { class: 'warn', id: 'stale' }, lg
        ? ['Backups are stale: the newest successful backup is from ', localTime(lg), ', older than the alert limit.']
        : 'Backups are stale: no successful backup is known within the alert limit.'));
    } else if (lg) {
      lines.push(h('p', { class: 'hint', id: 'last-good' }, 'Last successful backup: ', localTime(lg), '.'));
    }
    if (warn) lines.push(h('p', { class: 'warn', id: 'disk-warning' }, warn));
    replace(this.freshness, lines);
  }

  renderBanner() {
    const last = this.last;
    const id = outcomeId(last);
    const rd = this.restoreDone;
    const shown = id + '|' + (rd ? rd.downMs : '');
    if (shown === this.shown) return; // unchanged: not announced again
    this.shown = shown;
    if (!last || id === localStorage.getItem(DISMISSED_KEY)) {
      replace(this.banner);
      return;
    }
    const parts = [];
    if (last.ok) {
      parts.push(`${DONE[last.kind] || 'Finished'}: `, h('span', { class: 'name' }, last.key), '.');
    } else {
      const why = last.error || '';
      parts.push(`${FAILED[last.kind] || 'Failed'}: `, h('span', { class: 'name' }, last.key), '. ', why, why && !why.endsWith('.') ? '.' : '');
    }
    if (last.kind === 'verify' && last.verify && typeof last.verify === 'object') parts.push(verifySummary(last.verify, last.ok, last.error || ''));
    const fin = parseDate(last.finished);
    if (fin) parts.push(` (${localTime(fin)})`);
    if (last.kind === 'restore' && rd && rd.key === last.key) {
      parts.push(rd.sawDown
        ? ` The API was down for ${duration(rd.downMs)} during the restart.`
        : ` The API was down for less than ${duration(rd.maxGap || DOWN_MS)} during the restart.`);
    }
    const dismiss = h('button', {
      type: 'button', class: 'secondary small',
      onclick: () => { localStorage.setItem(DISMISSED_KEY, id); this.shown = null; this.renderBanner(); },
    }, 'Dismiss');
    replace(this.banner, h('div', {
      class: 'banner ' + (last.ok ? 'ok' : 'error'), role: last.ok ? 'status' : 'alert', id: 'outcome',
    }, h('p', null, parts), dismiss));
  }
}

// verifySummary is what a verification found, in words: the mode, the
// entries and digest read, a deep verify's databases, the first-seen note.
function verifySummary(v, ok, error) {
  const out = [];
  const mode = v.mode === 'deep' ? 'Deep check' : 'Quick check';
  const bits = [];
  if (ok && Number.isFinite(v.entries)) bits.push(`${v.entries} entries read`);
  if (typeof v.sha256 === 'string' && v.sha256) bits.push(`SHA-256 ${v.sha256.slice(0, 12)}…`);
  if (ok && Array.isArray(v.databases) && v.databases.length) bits.push(`databases intact: ${v.databases.join(', ')}`);
  const line = ` ${mode}${bits.length ? ': ' + bits.join('; ') : ''}`;
  out.push(line.endsWith('…') ? line : line + '.');
  if (!ok && typeof v.problem === 'string' && v.problem && !error.includes(v.problem)) out.push(' Problem: ', h('span', { class: 'problem' }, v.problem), '.');
  if (typeof v.note === 'string' && v.note) out.push(' ', v.note);
  return out;
}
