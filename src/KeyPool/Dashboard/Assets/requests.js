// KeyPool admin dashboard: the Requests tab (this instance's last requests, from /api/admin/requests).
// Rendered as text only, like the rest of the dashboard.
(() => {
  'use strict';

  const TOKEN_KEY = 'keypool.adminToken';
  const $ = (id) => document.getElementById(id);
  const numbers = new Intl.NumberFormat('en-US');
  let loading = 0;

  function cell(text, className) {
    const td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '–' : String(text);
    if (className) td.className = className;
    return td;
  }

  function number(value, digits) {
    if (value === null || value === undefined) return null;
    return digits === undefined ? numbers.format(value) : Number(value).toFixed(digits);
  }

  function query() {
    const params = new URLSearchParams();
    const user = $('requests-user').value.trim();
    const group = $('requests-group').value.trim();
    const status = $('requests-status').value.trim();
    if (user) params.set('user', user);
    if (group) params.set('group', group);
    if (status) params.set('status', status);
    const text = params.toString();
    return text ? `?${text}` : '';
  }

  async function show() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return;
    const mine = ++loading;
    const error = $('requests-error');
    try {
      const response = await fetch(`/api/admin/requests${query()}`, {
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
      });
      if (mine !== loading) return;
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      if (mine !== loading) return;
      error.hidden = true;
      render(data);
    } catch (failure) {
      if (mine !== loading) return;
      error.textContent = `Cannot read the requests: ${failure.message}`;
      error.hidden = false;
    }
  }

  function render(data) {
    const rows = data.requests.map((r) => {
      const tr = document.createElement('tr');
      if (r.status >= 500) tr.className = 'state-revoked';
      else if (r.status >= 400) tr.className = 'state-cooling';
      tr.dataset.status = String(r.status);
      tr.append(
        cell(new Date(r.time).toLocaleTimeString()),
        cell(r.user),
        cell(r.tier),
        cell(r.key_group, 'num'),
        cell(r.model),
        cell(r.endpoint),
        cell(r.status, 'num'),
        cell(r.error_code),
        cell(r.attempts, 'num'),
        cell(number(r.queue_ms, 1), 'num'),
        cell(number(r.upstream_ms, 1), 'num'),
        cell(number(r.input_tokens), 'num'),
        cell(number(r.output_tokens), 'num'),
        cell(number(r.cost_usd, 6), 'num'),
      );
      return tr;
    });
    $('request-rows').replaceChildren(...rows);
    $('requests-count').textContent = `(${numbers.format(data.matched)} of ${numbers.format(data.kept)} kept on ${data.instance})`;
  }

  window.KeyPoolRequests = { show };

  document.addEventListener('DOMContentLoaded', () => {
    $('requests-filter').addEventListener('submit', (event) => {
      event.preventDefault();
      show();
    });
    $('requests-refresh').addEventListener('click', show);
  });
})();
