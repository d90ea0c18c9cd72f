// KeyPool admin dashboard, API Keys tab. Plain JS, no dependencies.
// The admin token lives in sessionStorage (this tab only) and goes out only as an Authorization header.
(() => {
  'use strict';

  const TOKEN_KEY = 'keypool.adminToken';
  const REFRESH_MS = 3000;
  const SVG = 'http://www.w3.org/2000/svg';
  const SERIES_SHOWN = 8; // more lines than this are unreadable; the rest are summed as "others"
  const numbers = new Intl.NumberFormat('en-US');
  const compactNumbers = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

  const $ = (id) => document.getElementById(id);
  let timer = 0;
  let generation = 0; // bumps on sign-in/out so a late answer for an old token is dropped

  class WrongTokenError extends Error {}

  async function getJson(path, token) {
    const response = await fetch(path, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    });
    if (response.status === 401 || response.status === 403) {
      throw new WrongTokenError();
    }
    if (!response.ok) {
      throw new Error(`${path} answered HTTP ${response.status}`);
    }
    return response.json();
  }

  async function load(token) {
    const [health, history] = await Promise.all([
      getJson('/api/admin/api-keys/health', token),
      getJson('/api/admin/api-keys/history', token),
    ]);
    return { health, history };
  }

  // ---- sign-in / sign-out -------------------------------------------------------------------

  function showSignIn(message) {
    clearTimeout(timer);
    generation++;
    $('dashboard').hidden = true;
    $('sign-out').hidden = true;
    $('sign-in').hidden = false;
    clearData();
    const error = $('sign-in-error');
    error.textContent = message || '';
    error.hidden = !message;
    $('token').focus();
  }

  function showDashboard() {
    $('sign-in').hidden = true;
    $('sign-in-error').hidden = true;
    $('dashboard').hidden = false;
    $('sign-out').hidden = false;
  }

  function clearData() {
    $('key-rows').replaceChildren();
    $('history-chart').replaceChildren();
    $('history-legend').replaceChildren();
    $('users-chart').replaceChildren();
    for (const id of ['keys-detected', 'health-status', 'capacity-daily', 'total-requests']) {
      $(id).textContent = '–';
    }
    for (const id of ['keys-usable', 'health-message', 'capacity-detail', 'total-detail', 'last-updated', 'refresh-error']) {
      $(id).textContent = '';
    }
  }

  const WRONG_TOKEN = 'Wrong token: the gateway refused it. Check KeyPool:AdminToken and try again.';

  async function signIn(token) {
    const mine = ++generation;
    clearTimeout(timer);
    $('sign-in-button').disabled = true;
    try {
      const data = await load(token);
      if (mine !== generation) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      $('token').value = '';
      showDashboard();
      render(data);
      schedule();
    } catch (error) {
      if (mine !== generation) return;
      sessionStorage.removeItem(TOKEN_KEY);
      showSignIn(error instanceof WrongTokenError ? WRONG_TOKEN : `Cannot reach the gateway: ${error.message}`);
    } finally {
      $('sign-in-button').disabled = false;
    }
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn('');
  }

  // ---- live refresh -------------------------------------------------------------------------

  function schedule() {
    clearTimeout(timer);
    // A chain of timeouts, not an interval: a slow answer never overlaps the next poll.
    timer = setTimeout(refresh, REFRESH_MS);
  }

  async function refresh() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) {
      showSignIn('');
      return;
    }
    const mine = generation;
    try {
      const data = await load(token);
      if (mine !== generation) return;
      $('refresh-error').textContent = '';
      render(data);
    } catch (error) {
      if (mine !== generation) return;
      if (error instanceof WrongTokenError) {
        sessionStorage.removeItem(TOKEN_KEY);
        showSignIn('The admin token is no longer accepted (it may have changed). Sign in again.');
        return;
      }
      // Keep the last figures on screen and say they are stale.
      $('refresh-error').textContent = `Refresh failed: ${error.message}`;
    }
    schedule();
  }

  // ---- rendering ----------------------------------------------------------------------------

  function render({ health, history }) {
    const stats = health.keyGroupStats || [];
    renderSummary(health, stats);
    renderTable(stats);
    renderHistory(history);
    renderUsers(stats);
    $('last-updated').textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s`;
  }

  function renderSummary(health, stats) {
    const h = health.health || {};
    const capacity = h.estimatedCapacity || {};
    const usable = stats.filter((s) => s.state === 'active' || s.state === 'saturated').length;
    $('keys-detected').textContent = format(h.totalKeys ?? stats.length);
    $('keys-usable').textContent = `${format(usable)} usable`;
    const status = $('health-status');
    status.textContent = h.status || '–';
    status.className = `value status status-${String(h.status || '').toLowerCase()}`;
    $('health-message').textContent = h.message || '';
    const unit = document.createElement('span');
    unit.className = 'unit';
    unit.textContent = ' users/day';
    $('capacity-daily').replaceChildren(document.createTextNode(format(capacity.dailyUsers)), unit);
    $('capacity-detail').textContent =
      `${format(capacity.concurrentUsers)} concurrent · ${format(capacity.requestsPerDay)} requests/day`;
    const requests = stats.reduce((sum, s) => sum + s.total_requests, 0);
    const tokens = stats.reduce((sum, s) => sum + s.total_tokens, 0);
    $('total-requests').textContent = format(requests);
    $('total-detail').textContent = `${format(tokens)} tokens`;

    renderMeasured(health.measured, health.pool || {});

    const notes = [];
    const pool = health.pool || {};
    for (const sentence of (pool.quality && pool.quality.burstNotes) || []) notes.push(capitalize(sentence) + '.');
    if (pool.missingGroups && pool.missingGroups.length) {
      notes.push(`Users are assigned to groups without a key: ${pool.missingGroups.join(', ')} (run keypool rebalance).`);
    }
    for (const sentence of pool.sharedTeams || []) notes.push(capitalize(sentence) + '.');
    const poolNotes = $('pool-notes');
    poolNotes.textContent = notes.join(' ');
    poolNotes.hidden = notes.length === 0;
  }

  // Capacity at the demand observed, and how well requests were routed (stickiness, goodput).
  function renderMeasured(measured, pool) {
    if (measured && measured.enough) {
      const unit = document.createElement('span');
      unit.className = 'unit';
      unit.textContent = ' users at once';
      $('measured-users').replaceChildren(document.createTextNode(format(measured.usersCarried)), unit);
      $('measured-detail').textContent =
        `${measured.requestsPerUserPerMinute} req/user/min · ${format(Math.round(measured.tokensPerRequest))} tokens/req · ` +
        `${measured.bindingLimit} binds first · ${(measured.headroom * 100).toFixed(0)}% headroom · peak ${format(measured.peakActiveUsers)} users`;
    } else {
      $('measured-users').textContent = '–';
      $('measured-detail').textContent = measured ? measured.note : '';
    }
    const percent = (ratio) => (ratio === null || ratio === undefined ? '–' : `${(ratio * 100).toFixed(1)}%`);
    $('quality-sticky').textContent = `${percent(pool.sticky_ratio)} sticky`;
    const quality = pool.quality || {};
    $('quality-detail').textContent =
      `goodput ${percent(pool.goodput_ratio)} · ${format(quality.admitted ?? 0)} served · ${format(quality.refused ?? 0)} refused` +
      (quality.promisedRetries ? ` · ${format(quality.promisedRetries)} retries promised` : '');
  }

  const COLUMNS = [
    ['Group', 'key_group', (s) => text(`#${s.key_group}`)],
    ['Key', 'masked_key', (s) => code(s.masked_key)],
    ['State', 'state', stateCell],
    ['Users', 'user_count', (s) => text(format(s.user_count)), 'num'],
    ['Requests', 'total_requests', (s) => text(format(s.total_requests)), 'num'],
    ['Tokens', 'total_tokens', (s) => text(format(s.total_tokens)), 'num'],
    ['Load', 'load_percent', (s) => text(`${(s.load_percent ?? 0).toFixed(1)}%`), 'num'],
    ['RPM used / limit', 'rpm', (s) => meter(s.rpm_used, s.rpm_limit), 'budget'],
    ['TPM used / limit', 'tpm', (s) => meter(s.tpm_used, s.tpm_limit, compact), 'budget'],
    ['429s', 'errors_429', (s) => text(format(s.errors_429)), 'num'],
    ['Spills', 'spills_in', (s) => text(format(s.spills_in)), 'num'],
    ['Last activity', 'last_request_at', lastActivity],
  ];

  function renderTable(stats) {
    const rows = document.createDocumentFragment();
    for (const s of stats) {
      const tr = document.createElement('tr');
      tr.className = `state-${cssToken(s.state)}`;
      tr.dataset.group = String(s.key_group);
      tr.dataset.state = s.state;
      for (const [label, field, cell, kind] of COLUMNS) {
        const td = document.createElement('td');
        td.dataset.label = label;
        td.dataset.field = field;
        if (kind) td.className = kind;
        td.append(cell(s));
        tr.append(td);
      }
      rows.append(tr);
    }
    $('key-rows').replaceChildren(rows);
  }

  function stateCell(s) {
    const span = document.createElement('span');
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = s.state;
    span.append(badge);
    if (s.state_reason) {
      const reason = document.createElement('span');
      reason.className = 'reason';
      reason.textContent = s.state_reason;
      span.append(reason);
    }
    return span;
  }

  function meter(used, limit, show = format) {
    const wrap = document.createElement('span');
    wrap.className = 'meter';
    const track = document.createElement('span');
    track.className = 'meter-track';
    const fill = document.createElement('span');
    const share = limit > 0 ? Math.min(1, used / limit) : 0;
    fill.className = share >= 0.9 ? 'meter-fill high' : 'meter-fill';
    fill.style.width = `${(share * 100).toFixed(1)}%`; // CSSOM, allowed by the page's CSP
    track.append(fill);
    const label = document.createElement('span');
    label.textContent = `${show(used)} / ${show(limit)}`;
    label.title = `${format(used)} / ${format(limit)}`;
    wrap.append(track, label);
    return wrap;
  }

  function lastActivity(s) {
    if (!s.last_request_at) return text('never');
    const at = new Date(s.last_request_at);
    const time = document.createElement('time');
    time.dateTime = s.last_request_at;
    time.title = at.toLocaleString();
    time.textContent = ago(at);
    return time;
  }

  function renderHistory(history) {
    const svg = $('history-chart');
    const legend = $('history-legend');
    const { width: W, height: H } = svg.viewBox.baseVal;
    const left = 40, right = 10, top = 12, bottom = 26;
    const minutes = history.minutes || [];
    const groups = (history.groups || [])
      .map((g) => ({ group: g.key_group, values: g.requests, total: g.requests.reduce((a, b) => a + b, 0) }))
      .filter((g) => g.total > 0)
      .sort((a, b) => b.total - a.total || a.group - b.group);
    const shown = groups.slice(0, SERIES_SHOWN);
    const rest = groups.slice(SERIES_SHOWN);
    // Colour by group number, not rank: a key keeps its colour from one refresh to the next.
    const series = shown
      .sort((a, b) => a.group - b.group)
      .map((g) => ({ label: `Key ${g.group}`, group: g.group, values: g.values, css: `series-${(g.group - 1) % SERIES_SHOWN}` }));
    if (rest.length) {
      const values = minutes.map((_, i) => rest.reduce((sum, g) => sum + g.values[i], 0));
      series.push({ label: `${rest.length} other keys`, group: 'others', values, css: 'series-other' });
    }

    const nodes = [];
    const max = niceMax(Math.max(1, ...series.flatMap((s) => s.values)));
    const x = (i) => left + (i * (W - left - right)) / Math.max(1, minutes.length - 1);
    const y = (v) => top + (H - top - bottom) * (1 - v / max);
    for (const v of [0, max / 2, max]) {
      nodes.push(svgEl('line', { class: 'grid', x1: left, x2: W - right, y1: y(v), y2: y(v) }));
      nodes.push(svgEl('text', { class: 'axis-label', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
    }
    const ticks = [[0, '−60 min'], [Math.floor((minutes.length - 1) / 2), '−30 min'], [minutes.length - 1, 'now']];
    for (const [i, label] of ticks) {
      const anchor = i === 0 ? 'start' : i === minutes.length - 1 ? 'end' : 'middle';
      nodes.push(svgEl('text', { class: 'axis-label', x: x(i), y: H - 6, 'text-anchor': anchor }, label));
    }
    for (const s of series) {
      const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      const line = svgEl('polyline', { class: s.css, points, 'data-group': s.group });
      line.append(svgEl('title', {}, `${s.label}: ${format(s.values.reduce((a, b) => a + b, 0))} requests in the last hour`));
      nodes.push(line);
    }
    if (series.length === 0) {
      nodes.push(svgEl('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'No requests in the last hour'));
    }
    svg.replaceChildren(...nodes);

    legend.replaceChildren(...series.map((s) => {
      const item = document.createElement('span');
      item.className = 'legend-item';
      const swatch = document.createElement('span');
      swatch.className = `swatch ${s.css}`;
      item.append(swatch, document.createTextNode(s.label));
      return item;
    }));
  }

  function renderUsers(stats) {
    const svg = $('users-chart');
    const { width: W, height: H } = svg.viewBox.baseVal;
    const left = 36, right = 6, top = 12, bottom = 26;
    const nodes = [];
    const max = niceMax(Math.max(1, ...stats.map((s) => s.user_count)));
    const y = (v) => top + (H - top - bottom) * (1 - v / max);
    for (const v of [0, max / 2, max]) {
      nodes.push(svgEl('line', { class: 'grid', x1: left, x2: W - right, y1: y(v), y2: y(v) }));
      nodes.push(svgEl('text', { class: 'axis-label', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
    }
    const slot = (W - left - right) / Math.max(1, stats.length);
    const width = Math.max(2, slot * 0.7);
    const labelEvery = Math.ceil(stats.length / 16); // keep group labels from overlapping
    stats.forEach((s, i) => {
      const bx = left + i * slot + (slot - width) / 2;
      const by = y(s.user_count);
      const bar = svgEl('rect', {
        class: `bar state-${cssToken(s.state)}`,
        x: bx.toFixed(1), y: by.toFixed(1), width: width.toFixed(1), height: Math.max(0, H - bottom - by).toFixed(1),
        'data-group': s.key_group, 'data-users': s.user_count,
      });
      bar.append(svgEl('title', {}, `Key ${s.key_group}: ${format(s.user_count)} users (${s.state})`));
      nodes.push(bar);
      if (i % labelEvery === 0) {
        nodes.push(svgEl('text', { class: 'axis-label', x: (bx + width / 2).toFixed(1), y: H - 8, 'text-anchor': 'middle' }, String(s.key_group)));
      }
    });
    if (stats.length === 0) {
      nodes.push(svgEl('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'No keys'));
    }
    svg.replaceChildren(...nodes);
  }

  // ---- helpers ------------------------------------------------------------------------------

  function svgEl(name, attributes, content) {
    const el = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
    if (content !== undefined) el.textContent = content;
    return el;
  }

  function text(value) {
    return document.createTextNode(value);
  }

  function code(value) {
    const el = document.createElement('code');
    el.textContent = value;
    return el;
  }

  function format(value) {
    return typeof value === 'number' && Number.isFinite(value) ? numbers.format(value) : '–';
  }

  function compact(value) {
    return typeof value === 'number' && Number.isFinite(value) ? compactNumbers.format(value) : '–';
  }

  function cssToken(value) {
    return String(value || 'unknown').toLowerCase().replace(/[^a-z0-9-]/g, '');
  }

  function capitalize(value) {
    return value.charAt(0).toUpperCase() + value.slice(1);
  }

  function niceMax(value) {
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 5, 10]) {
      if (value <= step * power) return Math.max(step * power, 2);
    }
    return value;
  }

  function ago(date) {
    const seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
    if (seconds < 60) return `${seconds} s ago`;
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return `${minutes} min ago`;
    const hours = Math.round(minutes / 60);
    if (hours < 48) return `${hours} h ago`;
    return date.toLocaleDateString();
  }

  // ---- start --------------------------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', () => {
    $('sign-in-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = $('token').value.trim();
      if (token) signIn(token);
    });
    $('sign-out').addEventListener('click', signOut);
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) {
      signIn(saved);
    } else {
      showSignIn('');
    }
  });
})();
