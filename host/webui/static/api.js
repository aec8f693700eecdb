// api.js: every request the page makes goes through api() or upload(), the
// one place that adds the token, reads the contract's error JSON
// ({"status","message","data"}) and turns a refused token into a return to
// sign-in. The token lives in this browser's localStorage and is sent only
// in the Authorization header, never in a URL (the download's short-lived
// file token is the one exception, as the API requires).

const TOKEN_KEY = 'pocketbackup.token';
const EMAIL_KEY = 'pocketbackup.email';

// ApiError is a refused or failed request: status 0 when the server could
// not be reached, data the contract's field errors.
export class ApiError extends Error {
  constructor(status, message, data) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.data = data || {};
  }
}

export const session = {
  get token() { return localStorage.getItem(TOKEN_KEY) || ''; },
  get email() { return localStorage.getItem(EMAIL_KEY) || ''; },
  set(token, email) {
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(EMAIL_KEY, email || '');
  },
  // clear drops the token; the e-mail stays to fill in the next sign-in.
  clear() {
    localStorage.removeItem(TOKEN_KEY);
  },
};

let expired = () => {};

// onExpired sets what happens when the API refuses the stored token.
export function onExpired(fn) { expired = fn; }

export const EXPIRED_MESSAGE = 'Your session has ended (expired, or the account changed). Please sign in again.';

// result reads an answer: the parsed JSON of a 2xx (null when empty), or
// an ApiError thrown with the API's own message.
function result(status, text, sentToken) {
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  if (status >= 200 && status < 300) return json;
  const message = json && typeof json.message === 'string' && json.message ? json.message : `The request failed (HTTP ${status}).`;
  const data = json && json.data && typeof json.data === 'object' ? json.data : {};
  if (status === 401 && sentToken && sentToken === session.token) {
    session.clear();
    expired(EXPIRED_MESSAGE);
  }
  throw new ApiError(status, message, data);
}

const UNREACHABLE = 'The server could not be reached.';

// api sends one request; body (if any) as JSON. Options: anonymous (no
// token), signal.
export async function api(method, path, body, opts = {}) {
  const token = opts.anonymous ? '' : session.token;
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = token;
  const init = { method, headers, cache: 'no-store', credentials: 'omit', signal: opts.signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, UNREACHABLE, {});
  }
  let text = '';
  try { text = await res.text(); } catch { throw new ApiError(0, UNREACHABLE, {}); }
  return result(res.status, text, token);
}

// upload sends file to POST /api/backups/upload with XMLHttpRequest, for
// its progress events: onProgress(sent, total).
export function upload(file, onProgress) {
  const token = session.token;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/backups/upload');
    if (token) xhr.setRequestHeader('Authorization', token);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener('load', () => {
      try { resolve(result(xhr.status, xhr.responseText, token)); } catch (e) { reject(e); }
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, UNREACHABLE, {})));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'The upload was cancelled.', {})));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

// fieldMessage is the API's message for the field at path (e.g.
// ["backups","s3","bucket"]) in err's data, or "".
export function fieldMessage(err, path) {
  let v = err && err.data;
  for (const p of path) {
    if (!v || typeof v !== 'object') return '';
    v = v[p];
  }
  return v && typeof v.message === 'string' ? v.message : '';
}

// backupPath is the API path of backup key (plus suffix).
export function backupPath(key, suffix = '') {
  return '/api/backups/' + encodeURIComponent(key) + suffix;
}
