// The Stratus console: a small page app without a framework (nothing to download, nothing from a
// CDN). Every figure and every change goes through /console/api, which calls the router's own API
// as the logged-in principal.
'use strict';

const main = document.getElementById('main');
let liveLogs = null; // the EventSource of the page being shown, closed when the page changes

/** Builds an element: el('td', { class: 'num' }, 'text', child...). Text is always text, never HTML. */
function el(tag, attrs, ...children) {
  const node = tag === 'svg' || tag === 'polyline' || tag === 'rect' ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const res = await fetch(`/console/api${path}`, {
    method,
    headers: method === 'GET' ? {} : { 'content-type': 'application/json', 'x-stratus-console': '1' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = data.error || {};
    if (res.status === 401) showLogin();
    throw new ApiError(res.status, e.code || 'Internal', e.message || `HTTP ${res.status}`);
  }
  return data;
}

function ms(v) {
  return v === undefined || v === null ? '–' : v < 10 ? `${v.toFixed(2)} ms` : `${Math.round(v)} ms`;
}

/** A sparkline of `values`, labelled for screen readers with what it shows. */
function sparkline(values, label, cls) {
  const w = 120;
  const h = 28;
  const max = Math.max(1, ...values);
  const step = w / Math.max(1, values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`).join(' ');
  return el('svg', { class: `spark ${cls || ''}`, width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': `${label}: ${values.join(', ')}` },
    el('polyline', { points, fill: 'none', stroke: cls === 'bad' ? '#b42318' : '#0a58ca', 'stroke-width': 2 }));
}

function alertBox(err) {
  return el('div', { class: 'alert', role: 'alert' }, err instanceof ApiError ? `${err.code}: ${err.message}` : String(err.message || err));
}

function setPage(title, nav, ...content) {
  if (liveLogs) {
    liveLogs.close();
    liveLogs = null;
  }
  document.title = `${title} · Stratus console`;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren(...content);
}

function showLogin(message) {
  document.getElementById('logout').hidden = true;
  document.getElementById('who').textContent = '';
  const error = el('div', { 'aria-live': 'assertive' });
  if (message) error.append(alertBox(new Error(message)));
  const input = el('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, 'aria-describedby': 'token-help' });
  const form = el('form', { class: 'login', onsubmit: async (ev) => {
    ev.preventDefault();
    error.replaceChildren();
    const res = await fetch('/console/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: input.value }) });
    if (!res.ok) {
      const e = (await res.json().catch(() => ({}))).error || {};
      error.append(alertBox(new ApiError(res.status, e.code, e.message || 'login failed')));
      return;
    }
    await start();
  } },
    el('h1', {}, 'Log in to Stratus'),
    el('label', { for: 'token' }, 'API token'),
    input,
    el('p', { id: 'token-help', class: 'muted' }, 'A token from stratus auth create-token (or the one stratus dev printed). It is kept in an HTTP-only cookie for this console.'),
    el('button', { class: 'primary', type: 'submit' }, 'Log in'),
    error);
  setPage('Log in', '', form);
  input.focus();
}

// ---------------------------------------------------------------------------------------------- functions

const listState = { sort: 'name', dir: 1, q: '' };

async function functionsPage() {
  setPage('Functions', 'functions', el('h1', {}, 'Functions'), el('p', { class: 'muted' }, 'Loading…'));
  let rows;
  try {
    rows = await api('GET', '/functions');
  } catch (err) {
    return setPage('Functions', 'functions', el('h1', {}, 'Functions'), alertBox(err));
  }
  const search = el('input', { id: 'q', type: 'search', value: listState.q, placeholder: 'name contains…' });
  const body = el('tbody');
  const cols = [
    ['name', 'Name', (r) => r.function.config.name, false],
    ['runtime', 'Runtime', (r) => r.function.config.runtime, false],
    ['memory', 'Memory', (r) => r.function.config.memoryMb || 128, true],
    ['requests', 'Requests (1 h)', (r) => r.stats.requests, true],
    ['errors', 'Errors', (r) => r.stats.errors, true],
    ['p50', 'p50', (r) => r.stats.p50Ms ?? -1, true],
    ['p99', 'p99', (r) => r.stats.p99Ms ?? -1, true],
    ['throttles', 'Throttles', (r) => r.stats.throttles, true],
    ['cold', 'Cold starts', (r) => r.stats.coldStarts, true],
  ];
  const head = el('tr', {}, cols.map(([key, label, , num]) => el('th', { class: num ? 'num' : '', scope: 'col', 'aria-sort': listState.sort === key ? (listState.dir > 0 ? 'ascending' : 'descending') : 'none' },
    el('button', { type: 'button', onclick: () => { listState.dir = listState.sort === key ? -listState.dir : 1; listState.sort = key; functionsPage(); } }, label))), el('th', { scope: 'col' }, 'Last hour'));
  const draw = () => {
    const q = listState.q.toLowerCase();
    const get = cols.find((c) => c[0] === listState.sort)[2];
    const shown = rows.filter((r) => r.function.config.name.toLowerCase().includes(q)).sort((a, b) => (get(a) < get(b) ? -1 : get(a) > get(b) ? 1 : 0) * listState.dir);
    body.replaceChildren(...shown.map((r) => {
      const c = r.function.config;
      const s = r.stats;
      return el('tr', { 'data-function': c.name },
        el('td', {}, el('a', { href: `#/functions/${encodeURIComponent(c.name)}` }, c.name)),
        el('td', {}, c.runtime),
        el('td', { class: 'num' }, `${c.memoryMb} MB`),
        el('td', { class: 'num', 'data-metric': 'requests' }, s.requests),
        el('td', { class: `num ${s.errors ? 'bad' : ''}`, 'data-metric': 'errors' }, s.errors),
        el('td', { class: 'num', 'data-metric': 'p50' }, ms(s.p50Ms)),
        el('td', { class: 'num', 'data-metric': 'p99' }, ms(s.p99Ms)),
        el('td', { class: 'num', 'data-metric': 'throttles' }, s.throttles),
        el('td', { class: 'num', 'data-metric': 'cold' }, s.coldStarts),
        el('td', {}, sparkline(s.requestsSeries, `requests per 5 minutes of ${c.name}`), ' ', sparkline(s.errorsSeries, `errors per 5 minutes of ${c.name}`, 'bad')));
    }));
    count.textContent = `${shown.length} of ${rows.length} functions`;
  };
  const count = el('p', { class: 'muted', 'aria-live': 'polite' });
  search.addEventListener('input', () => {
    listState.q = search.value;
    draw();
  });
  draw();
  setPage('Functions', 'functions', el('h1', {}, 'Functions'),
    el('div', { class: 'toolbar' }, el('div', {}, el('label', { for: 'q' }, 'Search'), search)),
    count,
    el('table', { id: 'functions' }, el('caption', { class: 'muted' }, 'Figures from invocation records of the last hour'), el('thead', {}, head), body));
}

function envText(env) {
  return Object.entries(env || {}).map(([k, v]) => `${k}=${v}`).join('\n');
}

function parseEnv(text) {
  const env = {};
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`environment line "${line}": write KEY=VALUE`);
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

function field(id, label, input, help) {
  input.id = id;
  return el('div', {}, el('label', { for: id }, label), input, help ? el('div', { class: 'muted' }, help) : null);
}

async function functionPage(name) {
  setPage(name, 'functions', el('h1', {}, name), el('p', { class: 'muted' }, 'Loading…'));
  let data;
  try {
    data = await api('GET', `/functions/${encodeURIComponent(name)}`);
  } catch (err) {
    return setPage(name, 'functions', el('h1', {}, name), alertBox(err));
  }
  const f = data.function;
  const c = f.config;
  const s = data.stats;
  const cards = el('div', { class: 'grid', id: 'stats' },
    [['Requests (1 h)', s.requests, sparkline(s.requestsSeries, 'requests per 5 minutes')], ['Errors', s.errors, sparkline(s.errorsSeries, 'errors per 5 minutes', 'bad')], ['p50 / p99', `${ms(s.p50Ms)} / ${ms(s.p99Ms)}`, sparkline(s.p99Series, 'p99 duration per 5 minutes')], ['Throttles', s.throttles], ['Cold starts', s.coldStarts]]
      .map(([label, value, chart]) => el('div', { class: 'card' }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, value), chart)));

  // Configuration: the same update (and validation) as `stratus deploy` flags.
  const memory = el('input', { type: 'number', min: 128, max: 10240, value: c.memoryMb });
  const timeout = el('input', { type: 'number', min: 1, max: 900, value: c.timeoutSeconds });
  const reserved = el('input', { type: 'number', min: 0, value: c.reservedConcurrency ?? '', placeholder: 'unreserved' });
  const retries = el('input', { type: 'number', min: 0, max: 2, value: c.async?.maxRetryAttempts ?? 2 });
  const maxAge = el('input', { type: 'number', min: 60, max: 21600, value: c.async?.maxEventAgeSeconds || 21600 });
  const env = el('textarea', { rows: 4 }, envText(c.environment));
  const configStatus = el('div', { 'aria-live': 'polite' });
  // novalidate: the API's checks (the CLI's) are the ones that answer, with their messages.
  const configForm = el('form', { id: 'config', class: 'form', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    configStatus.replaceChildren();
    try {
      const edit = { memoryMb: Number(memory.value), timeoutSeconds: Number(timeout.value), reservedConcurrency: reserved.value === '' ? null : Number(reserved.value), maxRetryAttempts: Number(retries.value), maxEventAgeSeconds: Number(maxAge.value), environment: parseEnv(env.value) };
      const updated = await api('PATCH', `/functions/${encodeURIComponent(name)}`, edit);
      configStatus.append(el('div', { class: 'note', role: 'status' }, `Saved: revision ${updated.revisionId}`));
    } catch (err) {
      configStatus.append(alertBox(err));
    }
  } },
    field('memory', 'Memory (MB)', memory), field('timeout', 'Timeout (s)', timeout), field('reserved', 'Reserved concurrency', reserved, 'empty: unreserved; 0 stops it'),
    field('retries', 'Async retries', retries), field('max-age', 'Async max event age (s)', maxAge),
    el('div', { class: 'wide' }, field('env', 'Environment (KEY=VALUE per line)', env)),
    el('div', { class: 'wide' }, el('button', { class: 'primary', type: 'submit' }, 'Save configuration'), configStatus));

  const es = data.eventSources;
  const sources = el('ul', { id: 'event-sources' },
    es.urls.map((u) => el('li', {}, 'Function URL ', el('code', {}, u.url || u.path), ` (${u.auth})`)),
    es.routes.map((r) => el('li', {}, 'Route ', el('code', {}, r.routeKey))),
    es.triggers.map((t) => el('li', {}, 'Subject trigger ', el('code', {}, t.subject))),
    es.schedules.map((x) => el('li', {}, 'Schedule ', el('code', {}, x.expression))),
    es.mappings.map((m) => el('li', {}, 'Mapping from ', el('code', {}, `${m.source?.kind}:${m.source?.name}`))));
  if (!sources.children.length) sources.append(el('li', { class: 'muted' }, 'None: invoked through the API only'));

  // Test invoke: a synchronous invoke with the log tail, as `stratus invoke --log`.
  const payload = el('textarea', { rows: 5 }, '{}');
  const invokeOut = el('div', { id: 'invoke-result', 'aria-live': 'polite' });
  const invokeForm = el('form', { id: 'invoke', onsubmit: async (ev) => {
    ev.preventDefault();
    invokeOut.replaceChildren(el('p', { class: 'muted' }, 'Invoking…'));
    try {
      const r = await api('POST', `/functions/${encodeURIComponent(name)}/invoke`, { payload: payload.value });
      const report = r.report || {};
      invokeOut.replaceChildren(
        el('p', {}, el('span', { class: `pill ${r.functionError ? 'bad' : 'ok'}` }, r.functionError ? `Function error: ${r.functionError.errorType}` : 'Succeeded'), ` ${ms(report.durationMs)} (billed ${report.billedDurationMs} ms), ${report.coldStart ? 'cold start' : 'warm'}, request ${r.requestId}`),
        el('h3', {}, 'Result'), el('pre', { class: 'result' }, r.payloadText),
        el('h3', {}, 'Log tail'), el('pre', {}, r.logTail || '(no lines)'));
    } catch (err) {
      invokeOut.replaceChildren(alertBox(err));
    }
  } }, field('payload', 'Event (JSON)', payload), el('p', {}, el('button', { class: 'primary', type: 'submit' }, 'Invoke')), invokeOut);

  const logs = el('pre', { id: 'live-logs', class: 'logs', 'aria-live': 'polite', 'aria-label': 'Live log lines' });
  const invDetail = el('div', { id: 'invocation-detail', 'aria-live': 'polite' });
  const showInvocation = async (id) => {
    invDetail.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
    try {
      const r = await api('GET', `/invocations/${encodeURIComponent(id)}?function=${encodeURIComponent(name)}`);
      const lines = (r.lines || []).map((l) => `${new Date(Number(l.timeMs)).toISOString().slice(11, 23)} ${l.message}`).join('\n');
      invDetail.replaceChildren(el('h3', {}, `Invocation ${id}`), el('pre', {}, JSON.stringify(r.invocation, null, 2)), el('h3', {}, 'Its log lines'), el('pre', {}, lines || '(none kept)'));
    } catch (err) {
      invDetail.replaceChildren(alertBox(err));
    }
  };
  const logState = el('p', { class: 'muted', id: 'live-state' }, 'Connecting…');
  const invTable = el('table', { id: 'invocations' }, el('thead', {}, el('tr', {}, ['Start', 'Request', 'Trigger', 'Status', 'Duration', 'Start type', 'Memory'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, data.invocations.map((r) => el('tr', {}, el('td', {}, new Date(r.startMs).toLocaleTimeString()), el('td', {}, el('button', { type: 'button', class: 'request', 'aria-label': `Show invocation ${r.requestId}`, onclick: () => showInvocation(r.requestId) }, r.requestId.slice(0, 8))), el('td', {}, r.trigger),
      el('td', { class: r.status === 'Success' ? 'ok' : 'bad' }, r.errorType && r.status !== 'Success' ? `${r.status} (${r.errorType})` : r.status), el('td', { class: 'num' }, ms(r.durationMs)), el('td', {}, r.coldStart ? 'cold' : 'warm'), el('td', { class: 'num' }, `${r.maxMemoryUsedMb}/${r.memoryMb} MB`)))));

  setPage(name, 'functions',
    el('p', {}, el('a', { href: '#/functions' }, '← Functions')),
    el('h1', {}, name),
    el('p', { class: 'muted' }, `${c.runtime} · ${c.handler} · revision ${f.revisionId} · `, el('a', { href: `#/functions/${encodeURIComponent(name)}/dead-letters` }, 'Dead letters')),
    el('h2', {}, 'Last hour'), cards,
    el('div', { class: 'cols' },
      el('section', { 'aria-labelledby': 'h-config' }, el('h2', { id: 'h-config' }, 'Configuration'), configForm, el('h2', {}, 'Event sources'), sources),
      el('section', { 'aria-labelledby': 'h-invoke' }, el('h2', { id: 'h-invoke' }, 'Test invoke'), invokeForm)),
    el('section', { 'aria-labelledby': 'h-logs' }, el('h2', { id: 'h-logs' }, 'Live logs'), logState, logs),
    el('section', { 'aria-labelledby': 'h-inv' }, el('h2', { id: 'h-inv' }, 'Recent invocations'), data.invocations.length ? invTable : el('p', { class: 'muted' }, 'None in the last hour'), invDetail));

  // Live logs over server-sent events; the browser reconnects on its own if the router restarts.
  liveLogs = new EventSource(`/console/api/functions/${encodeURIComponent(name)}/logs?since=${Date.now() - 300_000}`);
  liveLogs.onopen = () => (logState.textContent = 'Following: new lines appear as they are written.');
  liveLogs.onerror = () => (logState.textContent = 'Reconnecting…');
  liveLogs.onmessage = (ev) => {
    const line = JSON.parse(ev.data);
    logs.append(`${new Date(Number(line.timeMs)).toISOString().slice(11, 23)} ${(line.requestId || '').slice(0, 8).padEnd(8)} ${line.message}\n`);
    while (logs.childNodes.length > 1000) logs.firstChild.remove();
    logs.scrollTop = logs.scrollHeight;
  };
}

async function deadLettersPage(name) {
  const title = `Dead letters of ${name}`;
  setPage(title, 'functions', el('h1', {}, title), el('p', { class: 'muted' }, 'Loading…'));
  let letters;
  try {
    letters = await api('GET', `/functions/${encodeURIComponent(name)}/dead-letters`);
  } catch (err) {
    return setPage(title, 'functions', el('h1', {}, title), alertBox(err));
  }
  const status = el('div', { 'aria-live': 'polite' });
  const detail = el('div', { id: 'dead-letter-detail' });
  const act = async (what, body) => {
    status.replaceChildren();
    try {
      const r = await api('POST', `/functions/${encodeURIComponent(name)}/dead-letters/${what}`, body);
      await deadLettersPage(name);
      status.append(el('div', { class: 'note', role: 'status' }, what === 'purge' ? `Purged ${r.purged}` : `Redriven ${r.redriven}`));
      main.append(status);
    } catch (err) {
      status.append(alertBox(err));
    }
  };
  const rows = letters.map((d) => el('tr', { 'data-sequence': d.sequence },
    el('td', { class: 'num' }, d.sequence), el('td', {}, new Date(Number(d.timeMs || 0)).toLocaleString()), el('td', {}, el('code', {}, d.requestId)), el('td', {}, d.condition), el('td', {}, d.errorType || '–'),
    el('td', {}, el('button', { type: 'button', onclick: async () => {
      try {
        const full = await api('GET', `/functions/${encodeURIComponent(name)}/dead-letters/${d.sequence}`);
        detail.replaceChildren(el('h2', {}, `Dead letter ${d.sequence}`), el('pre', {}, JSON.stringify(full, null, 2)));
      } catch (err) {
        detail.replaceChildren(alertBox(err));
      }
    } }, 'Inspect'), ' ', el('button', { type: 'button', onclick: () => act('redrive', { sequences: [Number(d.sequence)] }) }, 'Redrive'))));
  setPage(title, 'functions',
    el('p', {}, el('a', { href: `#/functions/${encodeURIComponent(name)}` }, `← ${name}`)),
    el('h1', {}, title),
    el('div', { class: 'toolbar' },
      el('button', { type: 'button', id: 'redrive-all', disabled: letters.length === 0, onclick: () => act('redrive', { sequences: [] }) }, 'Redrive all'),
      el('button', { type: 'button', class: 'danger', id: 'purge', disabled: letters.length === 0, onclick: () => { if (confirm(`Delete all ${letters.length} dead letters of ${name}?`)) act('purge', {}); } }, 'Purge')),
    status,
    letters.length ? el('table', { id: 'dead-letters' }, el('thead', {}, el('tr', {}, ['Seq', 'Time', 'Request', 'Condition', 'Error', ''].map((h) => el('th', { scope: 'col' }, h)))), el('tbody', {}, rows)) : el('p', { class: 'muted', id: 'no-dead-letters' }, 'No dead letters.'),
    detail);
}

async function clusterPage() {
  setPage('Cluster', 'cluster', el('h1', {}, 'Cluster'), el('p', { class: 'muted' }, 'Loading…'));
  let c;
  try {
    c = await api('GET', '/cluster');
  } catch (err) {
    return setPage('Cluster', 'cluster', el('h1', {}, 'Cluster'), alertBox(err));
  }
  const agents = c.agents || [];
  const routers = c.routers || [];
  const warm = (a, key) => (a.functions || []).reduce((n, f) => n + (f[key] || 0), 0);
  setPage('Cluster', 'cluster', el('h1', {}, 'Cluster'),
    el('p', { class: 'muted' }, `Answered by router ${c.routerId}; streams and buckets kept with ${c.replicas} replica(s).`),
    el('h2', {}, `Agents (${agents.length})`),
    el('table', { id: 'agents' }, el('thead', {}, el('tr', {}, ['Agent', 'Address', 'State', 'Memory free / total', 'Slots free / total', 'Busy', 'Idle (warm)', 'Functions'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, agents.map((a) => el('tr', { 'data-agent': a.agentId }, el('td', {}, a.agentId), el('td', {}, el('code', {}, a.address)), el('td', {}, el('span', { class: `pill ${a.state === 'ready' ? 'ok' : 'bad'}` }, a.state)),
        el('td', { class: 'num' }, `${a.memoryFreeMb} / ${a.memoryTotalMb} MB`), el('td', { class: 'num' }, `${a.slotsFree} / ${a.slotsTotal}`), el('td', { class: 'num' }, warm(a, 'busy')), el('td', { class: 'num' }, warm(a, 'idle')),
        el('td', {}, (a.functions || []).map((f) => f.functionName).join(', ') || '–'))))),
    el('h2', {}, `Routers (${routers.length})`),
    el('table', { id: 'routers' }, el('thead', {}, el('tr', {}, ['Router', 'Address', 'Agents seen'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, routers.map((r) => el('tr', {}, el('td', {}, r.routerId), el('td', {}, el('code', {}, r.address)), el('td', { class: 'num' }, r.agents))))));
}

async function route() {
  const hash = decodeURIComponent(location.hash.slice(1) || '/functions');
  let m;
  if ((m = /^\/functions\/([\w-]+)\/dead-letters$/.exec(hash))) return deadLettersPage(m[1]);
  if ((m = /^\/functions\/([\w-]+)$/.exec(hash))) return functionPage(m[1]);
  if (hash === '/cluster') return clusterPage();
  return functionsPage();
}

async function start() {
  try {
    const me = await api('GET', '/me');
    document.getElementById('who').textContent = `${me.tenant} / ${me.name}${me.admin ? ' (administrator)' : ''}`;
    document.getElementById('logout').hidden = false;
  } catch (err) {
    if (err.status === 401) return;
    return setPage('Error', '', alertBox(err));
  }
  await route();
  main.focus();
}

document.getElementById('logout').addEventListener('click', async () => {
  await fetch('/console/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  showLogin('Logged out.');
});
window.addEventListener('hashchange', () => route());
start();
