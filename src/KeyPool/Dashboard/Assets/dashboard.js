// KeyPool admin dashboard: the API Keys and Users tabs. Plain JS, no dependencies.
// The admin token lives in sessionStorage (this tab only) and goes out only as an Authorization header.
// Everything that comes from the gateway (user ids, tiers, messages) is rendered as text, never as HTML.
(() => {
  'use strict';

  const TOKEN_KEY = 'keypool.adminToken';
  const REFRESH_MS = 3000;
  const SVG = 'http://www.w3.org/2000/svg';
  const SERIES_SHOWN = 8; // more lines than this are unreadable; the rest are summed as "others"
  const numbers = new Intl.NumberFormat('en-US');
  const compactNumbers = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
  // Dollars to the cent from $1 up; below, to 10^-8 USD (single requests cost fractions of a cent).
  const dollars = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const cents = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 8 });
  const ESTIMATED_TITLE = 'Part of this cost is estimated from the price table (KeyPool:Models:Prices): the upstream did not say what it cost.';

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
    $('users-tab').hidden = true;
    $('requests-tab').hidden = true;
    $('sign-out').hidden = true;
    clearUser();
    $('top-user-rows').replaceChildren();
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
    $('sign-out').hidden = false;
    showTab();
  }

  // ---- tabs ---------------------------------------------------------------------------------

  const TITLES = { 'api-keys': 'API Keys', users: 'Users', requests: 'Requests' };

  function currentTab() {
    if (location.hash === '#users') return 'users';
    return location.hash === '#requests' ? 'requests' : 'api-keys';
  }

  function showTab() {
    const tab = currentTab();
    for (const link of document.querySelectorAll('.tab')) {
      const active = link.dataset.tab === tab;
      link.classList.toggle('active', active);
      if (active) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = `KeyPool · ${TITLES[tab]}`;
    if (!sessionStorage.getItem(TOKEN_KEY) || !$('sign-in').hidden) return;
    $('dashboard').hidden = tab !== 'api-keys';
    $('users-tab').hidden = tab !== 'users';
    $('requests-tab').hidden = tab !== 'requests';
    if (tab === 'requests' && window.KeyPoolRequests) window.KeyPoolRequests.show();
    if (tab === 'users') loadTopUsers();
    else hideNewKey();
  }

  function clearData() {
    $('key-rows').replaceChildren();
    $('history-chart').replaceChildren();
    $('history-legend').replaceChildren();
    $('users-chart').replaceChildren();
    for (const id of ['keys-detected', 'health-status', 'capacity-daily', 'total-requests', 'total-cost']) {
      $(id).textContent = '–';
    }
    for (const id of ['keys-usable', 'health-message', 'capacity-detail', 'total-detail', 'cost-detail', 'last-updated', 'refresh-error']) {
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

  function tokenRefused() {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn('The admin token is no longer accepted (it may have changed). Sign in again.');
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
        tokenRefused();
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
    // The pool's totals (the shared store plus this instance's unflushed part), the same whichever instance answers.
    const facts = health.pool || {};
    const asOf = facts.totals_as_of ? new Date(facts.totals_as_of).toLocaleTimeString() : '–';
    const freshness = facts.totals_stale_since ? `stale: store unreadable since ${new Date(facts.totals_stale_since).toLocaleTimeString()}` : `pool, as of ${asOf}`;
    $('total-detail').textContent = `${format(tokens)} tokens · ${freshness}`;

    renderMeasured(health.measured, health.pool || {});
    renderCost((health.pool || {}).cost);

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
    $('quality-sticky').textContent = `${percent(pool.sticky_ratio)} sticky`;
    const quality = pool.quality || {};
    $('quality-detail').textContent =
      `goodput ${percent(pool.goodput_ratio)} · ${format(quality.admitted ?? 0)} served · ${format(quality.refused ?? 0)} refused` +
      (quality.promisedRetries ? ` · ${format(quality.promisedRetries)} retries promised` : '');
  }

  // The pool's money: what the upstream billed (or the price table estimated), the cache's share, what stickiness saved.
  function renderCost(cost) {
    if (!cost) {
      $('total-cost').textContent = '–';
      $('cost-detail').textContent = '';
      return;
    }
    $('total-cost').replaceChildren(money(cost.cost_usd, cost.estimated));
    $('cost-detail').textContent =
      `${percent(cost.cached_share)} of prompt tokens from cache · stickiness saved ${usd(cost.saved_usd)}` +
      (cost.estimated ? ` · ${usd(cost.estimated_cost_usd)} estimated` : '');
  }

  const COLUMNS = [
    ['Group', 'key_group', (s) => text(`#${s.key_group}`)],
    ['Key', 'masked_key', (s) => code(s.masked_key)],
    ['State', 'state', stateCell],
    ['Users', 'user_count', (s) => text(format(s.user_count)), 'num'],
    ['Requests', 'total_requests', (s) => text(format(s.total_requests)), 'num'],
    ['Tokens', 'total_tokens', (s) => text(format(s.total_tokens)), 'num'],
    ['Cost', 'cost_usd', (s) => (s.cost ? money(s.cost.cost_usd, s.cost.estimated) : text('–')), 'num'],
    ['Cached', 'cached_share', (s) => text(s.cost ? percent(s.cost.cached_share) : '–'), 'num'],
    ['Saved', 'saved_usd', (s) => text(s.cost ? usd(s.cost.saved_usd) : '–'), 'num'],
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


  // ---- Users tab ----------------------------------------------------------------------------

  let shownUser = null; // the id on screen, as the gateway spelled it

  // One admin call; answers { ok, status, data } (data: the JSON body, or null). A refused token throws.
  async function call(method, path, body) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) throw new WrongTokenError();
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
    if (response.status === 401 || response.status === 403) throw new WrongTokenError();
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch {
        data = null; // an empty or non-JSON answer (a route this gateway does not have)
      }
    }
    return { ok: response.ok, status: response.status, data };
  }

  function problem(result, what) {
    const message = result.data && result.data.error && result.data.error.message;
    if (message) return message;
    if (result.status === 404 || result.status === 405) return `${what}: this gateway does not offer it (HTTP ${result.status}).`;
    return `${what} failed (HTTP ${result.status}).`;
  }

  // Wraps a user action: a refused token signs out, a network failure is said where the action was.
  async function guarded(action, where) {
    const mine = generation;
    try {
      await action(mine);
    } catch (error) {
      if (mine !== generation) return;
      if (error instanceof WrongTokenError) {
        tokenRefused();
        return;
      }
      say(where, `Cannot reach the gateway: ${error.message}`, true);
    }
  }

  function say(id, message, isError) {
    const el = $(id);
    el.textContent = message || '';
    el.classList.toggle('error', Boolean(isError));
    el.hidden = !message;
  }

  const userPath = (id) => `/api/admin/users/${encodeURIComponent(id)}`;
  // By exact id in the query: also opens stored ids with '/' or '%', which a path segment cannot name unambiguously.
  const exactUser = (id) => `/api/admin/user?id=${encodeURIComponent(id)}`;

  function lookUp(id, status) {
    return guarded(async (mine) => {
      $('user-search-button').disabled = true;
      try {
        const [user, keys] = await Promise.all([call('GET', exactUser(id)), call('GET', `${userPath(id)}/keys`)]);
        if (mine !== generation) return;
        if (!user.ok) {
          clearUser();
          say('user-error', problem(user, `Looking up '${id}'`), true);
          return;
        }
        say('user-error', '');
        if (shownUser !== user.data.id) hideNewKey();
        shownUser = user.data.id;
        renderUser(user.data);
        renderKeys(keys);
        say('user-action-status', status || '', false);
        $('user-details').hidden = false;
      } finally {
        $('user-search-button').disabled = false;
      }
    }, 'user-error');
  }

  function clearUser() {
    shownUser = null;
    hideNewKey();
    $('user-details').hidden = true;
    $('gateway-key-rows').replaceChildren();
    $('usage-chart').replaceChildren();
    say('user-error', '');
    say('user-action-status', '');
  }

  function renderUser(user) {
    $('user-id').textContent = user.id;
    $('user-group').textContent = `#${user.apiKeyGroup}`;
    $('user-tier').textContent = user.tier;
    $('group-input').value = '';
    $('group-input').placeholder = String(user.apiKeyGroup);
    $('tier-input').value = '';
    $('tier-input').placeholder = user.tier;
    const usage = user.usage;
    if (usage && usage.today && usage.last30Days) {
      $('user-note').textContent = '';
      showTokens('usage-today', usage.today);
      showTokens('usage-30d', usage.last30Days);
      renderUsageChart(usage.days || []);
      $('cost-today').replaceChildren(money(usage.today.costUsd, usage.today.costEstimated));
      $('cost-30d').replaceChildren(text('last 30 days '), money(usage.last30Days.costUsd, usage.last30Days.costEstimated));
    } else {
      // null while the gateway's store is unavailable (or from a gateway without usage per user): unknown, not zero.
      $('user-note').textContent = 'Usage is unavailable right now (the store may be down).';
      for (const id of ['usage-today', 'usage-30d']) {
        $(id).textContent = '–';
        $(`${id}-detail`).textContent = '';
      }
      $('cost-today').textContent = '–';
      $('cost-30d').textContent = '';
      renderUsageChart([]);
    }
  }

  function showTokens(id, counts) {
    const unit = document.createElement('span');
    unit.className = 'unit';
    unit.textContent = ' tokens';
    $(id).replaceChildren(document.createTextNode(format(counts.totalTokens)), unit);
    $(`${id}-detail`).textContent =
      `${format(counts.requests)} requests · ${format(counts.promptTokens)} prompt · ${format(counts.completionTokens)} completion` +
      (counts.reasoningTokens ? ` · ${format(counts.reasoningTokens)} reasoning` : '') +
      (counts.cachedTokens ? ` · ${format(counts.cachedTokens)} cached` : '');
  }

  function renderUsageChart(days) {
    const svg = $('usage-chart');
    const { width: W, height: H } = svg.viewBox.baseVal;
    const left = 48, right = 6, top = 12, bottom = 24;
    const nodes = [];
    const max = niceMax(Math.max(1, ...days.map((d) => d.totalTokens)));
    const y = (v) => top + (H - top - bottom) * (1 - v / max);
    for (const v of days.length ? [0, max / 2, max] : []) {
      nodes.push(svgEl('line', { class: 'grid', x1: left, x2: W - right, y1: y(v), y2: y(v) }));
      nodes.push(svgEl('text', { class: 'axis-label', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, compact(v)));
    }
    const slot = (W - left - right) / Math.max(1, days.length);
    const width = Math.max(2, slot * 0.7);
    days.forEach((d, i) => {
      const bx = left + i * slot + (slot - width) / 2;
      const by = y(d.totalTokens);
      const bar = svgEl('rect', {
        class: i === days.length - 1 ? 'bar today' : 'bar',
        x: bx.toFixed(1), y: by.toFixed(1), width: width.toFixed(1), height: Math.max(0, H - bottom - by).toFixed(1),
        'data-day': d.day, 'data-tokens': d.totalTokens, 'data-requests': d.requests,
      });
      bar.append(svgEl('title', {}, `${d.day}: ${format(d.totalTokens)} tokens, ${format(d.requests)} requests`));
      nodes.push(bar);
      if (i === 0 || i === days.length - 1 || i === Math.floor((days.length - 1) / 2)) {
        const anchor = i === 0 ? 'start' : i === days.length - 1 ? 'end' : 'middle';
        const x = i === 0 ? bx : i === days.length - 1 ? bx + width : bx + width / 2;
        nodes.push(svgEl('text', { class: 'axis-label', x: x.toFixed(1), y: H - 6, 'text-anchor': anchor }, String(d.day).slice(5)));
      }
    });
    if (days.length === 0) {
      nodes.push(svgEl('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'No usage data'));
    }
    svg.replaceChildren(...nodes);
  }

  function renderKeys(result) {
    const rows = document.createDocumentFragment();
    if (!result.ok) {
      $('issue-key').disabled = true;
      say('gateway-keys-note', problem(result, 'Gateway keys'), false);
      $('gateway-key-rows').replaceChildren();
      return;
    }
    $('issue-key').disabled = false;
    const keys = result.data.keys || [];
    say('gateway-keys-note', keys.length ? '' : 'No gateway key yet.', false);
    for (const key of keys) {
      const tr = document.createElement('tr');
      tr.dataset.keyId = key.id;
      tr.className = key.revoked ? 'state-revoked' : 'state-active';
      const cells = [
        ["Key", code(key.prefix)],
        ['Id', code(key.id)],
        ['Created', timeCell(key.createdAt)],
        ['State', badge(key.revoked ? 'revoked' : 'active', key.revokedAt ? `revoked ${ago(new Date(key.revokedAt))}` : '')],
        ['', key.revoked ? text('') : revokeButton(key.id)],
      ];
      for (const [label, content] of cells) {
        const td = document.createElement('td');
        td.dataset.label = label;
        td.append(content);
        tr.append(td);
      }
      rows.append(tr);
    }
    $('gateway-key-rows').replaceChildren(rows);
  }

  function badge(state, reason) {
    const span = document.createElement('span');
    const b = document.createElement('span');
    b.className = 'badge';
    b.textContent = state;
    span.append(b);
    if (reason) {
      const r = document.createElement('span');
      r.className = 'reason';
      r.textContent = reason;
      span.append(r);
    }
    return span;
  }

  function timeCell(value) {
    const at = new Date(value);
    const time = document.createElement('time');
    time.dateTime = value;
    time.title = at.toLocaleString();
    time.textContent = at.toLocaleString();
    return time;
  }

  // Two clicks revoke a key (the first arms the button): no dialog, and no key revoked by a stray click.
  function revokeButton(keyId) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'action danger revoke';
    button.textContent = 'Revoke';
    button.addEventListener('click', () => {
      if (button.dataset.armed !== 'true') {
        button.dataset.armed = 'true';
        button.textContent = 'Confirm revoke';
        return;
      }
      button.disabled = true;
      const user = shownUser;
      guarded(async (mine) => {
        const result = await call('DELETE', `${userPath(user)}/keys/${encodeURIComponent(keyId)}`);
        if (mine !== generation) return;
        if (!result.ok) {
          button.disabled = false;
          say('user-action-status', problem(result, 'Revoking the key'), true);
          return;
        }
        await lookUp(user, `Key ${keyId} revoked: it stops working at once.`);
      }, 'user-action-status');
    });
    return button;
  }

  function issueKey() {
    const user = shownUser;
    if (!user) return;
    $('issue-key').disabled = true;
    guarded(async (mine) => {
      try {
        const result = await call('POST', `${userPath(user)}/keys`);
        if (mine !== generation) return;
        if (!result.ok) {
          say('user-action-status', problem(result, 'Issuing a key'), true);
          return;
        }
        await lookUp(user, `Key ${result.data.id} issued.`);
        // The secret is shown here once and kept nowhere else: not in storage, not in the list.
        $('new-key-secret').textContent = result.data.key;
        $('new-key').hidden = false;
      } finally {
        $('issue-key').disabled = false;
      }
    }, 'user-action-status');
  }

  function hideNewKey() {
    $('new-key-secret').textContent = '';
    $('new-key').hidden = true;
  }

  function update(change, done, button) {
    const user = shownUser;
    if (!user) return;
    $(button).disabled = true;
    guarded(async (mine) => {
      try {
        const result = await call('PATCH', exactUser(user), change);
        if (mine !== generation) return;
        if (!result.ok) {
          say('user-action-status', problem(result, 'The change'), true);
          return;
        }
        await lookUp(user, done(result.data));
      } finally {
        $(button).disabled = false;
      }
    }, 'user-action-status');
  }

  function loadTopUsers() {
    return guarded(async (mine) => {
      const result = await call('GET', '/api/admin/users?top=50&by=tokens');
      if (mine !== generation) return;
      if (!result.ok || !result.data || !Array.isArray(result.data.users)) {
        $('top-user-rows').replaceChildren();
        $('top-users-day').textContent = '';
        say('top-users-note', result.ok ? 'The gateway answered without a list of users.' : problem(result, 'Top users'), false);
        return;
      }
      const users = result.data.users;
      $('top-users-day').textContent = result.data.day ? `(${result.data.day}, UTC)` : '';
      say('top-users-note', users.length ? '' : 'No usage recorded today.', false);
      const rows = document.createDocumentFragment();
      users.forEach((u, i) => {
        const tr = document.createElement('tr');
        tr.dataset.user = u.id;
        const open = document.createElement('button');
        open.type = 'button';
        open.className = 'link';
        open.textContent = u.id;
        open.title = 'Look up this user';
        open.addEventListener('click', () => {
          $('user-search').value = u.id;
          lookUp(u.id);
        });
        const cells = [
          ['#', text(String(i + 1)), 'num'],
          ['User', open, 'user'],
          ['Requests', text(format(u.requests)), 'num'],
          ['Prompt', text(format(u.promptTokens)), 'num'],
          ['Completion', text(format(u.completionTokens)), 'num'],
          ['Tokens', text(format(u.totalTokens)), 'num'],
          ['Cost', money(u.costUsd, u.costEstimated), 'num'],
        ];
        for (const [label, content, kind] of cells) {
          const td = document.createElement('td');
          td.dataset.label = label;
          td.className = kind;
          td.append(content);
          tr.append(td);
        }
        rows.append(tr);
      });
      $('top-user-rows').replaceChildren(rows);
    }, 'top-users-note');
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

  function usd(value) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
    return (Math.abs(value) >= 1 ? dollars : cents).format(value);
  }

  // An amount in USD, marked when part of it is the price table's estimate rather than the upstream's bill.
  function money(value, estimated) {
    const span = document.createElement('span');
    span.className = 'money';
    span.textContent = usd(value);
    if (estimated) {
      const mark = document.createElement('span');
      mark.className = 'estimated';
      mark.textContent = 'estimated';
      mark.title = ESTIMATED_TITLE;
      span.append(' ', mark);
    }
    return span;
  }

  function percent(ratio) {
    return typeof ratio === 'number' && Number.isFinite(ratio) ? `${(ratio * 100).toFixed(1)}%` : '–';
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
    window.addEventListener('hashchange', showTab);
    $('user-search-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const id = $('user-search').value.trim();
      if (id) lookUp(id);
    });
    $('issue-key').addEventListener('click', issueKey);
    $('new-key-dismiss').addEventListener('click', hideNewKey);
    $('tier-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const tier = $('tier-input').value.trim();
      if (tier) update({ tier }, (u) => `Tier changed to ${u && u.tier ? u.tier : tier}.`, 'tier-button');
    });
    $('group-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const group = Number($('group-input').value);
      if (Number.isInteger(group) && group > 0) {
        update({ apiKeyGroup: group }, (u) => `Moved to key group ${u && u.apiKeyGroup ? u.apiKeyGroup : group}.`, 'group-button');
      }
    });
    $('top-users-refresh').addEventListener('click', loadTopUsers);
    showTab();
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) {
      signIn(saved);
    } else {
      showSignIn('');
    }
  });
})();
