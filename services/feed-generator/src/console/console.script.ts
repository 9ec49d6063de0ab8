/**
 * The console's script: a small hash router, views built with DOM calls (no HTML strings, so
 * nothing from the API is ever parsed as markup), the admin token kept in sessionStorage.
 *
 * @NOTE Plain ES2017 in a string, served as is: no framework and no build step. It must not
 * contain backticks or dollar-brace sequences (console.script.spec.ts checks that it parses).
 */
export const consoleScript = String.raw`(function () {
  'use strict';

  var TOKEN_KEY = 'common-ground.admin-token';
  var REFRESH_MS = 15000;
  var RANKINGS = ['recent', 'bridging', 'bridging-within', 'balanced'];
  var MEMBER_SOURCES = [
    ['dids', 'Accounts (DIDs)', 'did:plc:… or did:web:…'],
    ['handles', 'Handles', 'someone.bsky.social'],
    ['lists', 'Lists', 'at://…/app.bsky.graph.list/… (followed live)'],
    ['starterPacks', 'Starter packs', 'at://…/app.bsky.graph.starterpack/…'],
    ['hashtags', 'Hashtags', 'without #, lower case: authors who used them recently'],
    ['followersOf', 'Followers of', 'DIDs of seed accounts'],
    ['exclude', 'Never members', 'DIDs excluded whatever the other sources say']
  ];

  var state = { token: sessionStorage.getItem(TOKEN_KEY), render: 0, timer: undefined, notice: '' };

  function byId(id) { return document.getElementById(id); }

  /** Builds an element: attributes ("on…" functions become listeners, "text" the text content), then children. */
  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    applyAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function s(tag, attrs, children) {
    var node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    applyAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function applyAttrs(node, attrs) {
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null || value === false) return;
      if (key === 'text') node.textContent = String(value);
      else if (key.slice(0, 2) === 'on' && typeof value === 'function') node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, '');
      else node.setAttribute(key, String(value));
    });
  }

  function append(node, children) {
    (Array.isArray(children) ? children : [children]).forEach(function (child) {
      if (child === undefined || child === null || child === false) return;
      if (Array.isArray(child)) append(node, child);
      else node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
    });
  }

  function announce(message) {
    var region = byId('announce');
    region.textContent = '';
    window.setTimeout(function () { region.textContent = message; }, 50);
  }

  // ---- Formatting -----------------------------------------------------------------------------

  function fmtCount(value) {
    if (value === null || value === undefined || !isFinite(value)) return '—';
    return Math.round(value).toLocaleString('en-US');
  }

  function fmtRate(value) {
    if (value === null || value === undefined || !isFinite(value)) return '—';
    return (value >= 100 ? Math.round(value) : Math.round(value * 10) / 10).toLocaleString('en-US') + '/s';
  }

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return '—';
    if (seconds < 1) return Math.round(seconds * 1000) + ' ms';
    if (seconds < 90) return Math.round(seconds) + ' s';
    if (seconds < 5400) return Math.round(seconds / 60) + ' min';
    if (seconds < 172800) return Math.round(seconds / 360) / 10 + ' h';
    return Math.round(seconds / 8640) / 10 + ' days';
  }

  function fmtTime(ms) {
    return new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function fmtValue(value) {
    if (typeof value === 'number') return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toPrecision(4);
    if (typeof value === 'string') return value;
    return JSON.stringify(value);
  }

  // ---- API --------------------------------------------------------------------------------------

  function ApiError(status, message, body) {
    this.name = 'ApiError';
    this.status = status;
    this.message = message;
    this.body = body;
  }
  ApiError.prototype = Object.create(Error.prototype);

  function api(path, options) {
    var init = { method: (options && options.method) || 'GET', headers: { accept: 'application/json', authorization: 'Bearer ' + state.token } };
    if (options && options.body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    return fetch(path, init).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (error) { body = null; }
        if (response.status === 401) {
          signOut('Your admin token was refused. Sign in again.');
          throw new ApiError(401, 'Not signed in', body);
        }
        if (!response.ok) throw new ApiError(response.status, (body && body.message) || response.statusText || 'Request failed', body);
        return body;
      });
    });
  }

  // ---- Sign in ----------------------------------------------------------------------------------

  function showLoginError(message) {
    var error = byId('login-error');
    error.textContent = message;
    error.hidden = !message;
    byId('token').setAttribute('aria-invalid', message ? 'true' : 'false');
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    route();
    if (message) showLoginError(message);
  }

  function onLogin(event) {
    event.preventDefault();
    var input = byId('token');
    var token = input.value.trim();
    if (!token) {
      showLoginError('Enter the admin token.');
      input.focus();
      return;
    }
    var button = event.target.querySelector('button[type="submit"]');
    button.disabled = true;
    showLoginError('');
    fetch('/api/admin/console/overview', { headers: { accept: 'application/json', authorization: 'Bearer ' + token } })
      .then(function (response) {
        if (response.ok) {
          sessionStorage.setItem(TOKEN_KEY, token);
          state.token = token;
          input.value = '';
          announce('Signed in');
          if (!location.hash || location.hash === '#/') location.hash = '#/health';
          else route();
          return;
        }
        return response.json().catch(function () { return {}; }).then(function (body) {
          var disabled = body && typeof body.message === 'string' && body.message.indexOf('disabled') >= 0;
          showLoginError(
            response.status === 401
              ? disabled ? 'The admin API is disabled on this server: set ADMIN_TOKEN and restart it.' : 'That token was refused. Check it and try again.'
              : 'The server answered ' + response.status + '. Try again in a moment.'
          );
          input.focus();
          input.select();
        });
      })
      .catch(function () { showLoginError('The server could not be reached.'); })
      .then(function () { button.disabled = false; });
  }

  // ---- Routing ----------------------------------------------------------------------------------

  var routes = [
    [/^#\/health$/, viewHealth, 'Health'],
    [/^#\/communities$/, viewCommunities, 'Communities'],
    [/^#\/communities\/new$/, function () { return viewCommunityForm(null); }, 'New community'],
    [/^#\/communities\/([^/]+)\/edit$/, function (m) { return viewCommunityForm(decodeURIComponent(m[1])); }, 'Edit community'],
    [/^#\/feeds$/, viewFeeds, 'Feeds'],
    [/^#\/feeds\/new$/, function () { return viewFeedForm(null); }, 'New feed'],
    [/^#\/feeds\/([^/]+)\/edit$/, function (m) { return viewFeedForm(decodeURIComponent(m[1])); }, 'Edit feed'],
    [/^#\/feeds\/([^/]+)$/, function (m) { return viewFeedPreview(decodeURIComponent(m[1])); }, 'Feed preview']
  ];

  function route() {
    window.clearTimeout(state.timer);
    var signedIn = Boolean(state.token);
    byId('login').hidden = signedIn;
    byId('nav').hidden = !signedIn;
    byId('sign-out').hidden = !signedIn;
    var view = byId('view');
    if (!signedIn) {
      view.replaceChildren();
      document.title = 'Sign in · Common Ground console';
      byId('token').focus();
      return;
    }
    var hash = location.hash || '#/health';
    var found = null;
    for (var i = 0; i < routes.length && !found; i += 1) {
      var match = routes[i][0].exec(hash);
      if (match) found = { render: routes[i][1], match: match, title: routes[i][2] };
    }
    if (!found) {
      location.replace('#/health');
      return;
    }
    var section = hash.split('/')[1];
    Array.prototype.forEach.call(byId('nav').querySelectorAll('a'), function (link) {
      if (link.getAttribute('href') === '#/' + section) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    });
    var ticket = (state.render += 1);
    var firstRender = view.getAttribute('data-route') !== hash;
    view.setAttribute('data-route', hash);
    if (firstRender) view.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
    view.setAttribute('aria-busy', 'true');
    Promise.resolve()
      .then(function () { return found.render(found.match); })
      .then(function (nodes) {
        if (ticket !== state.render) return;
        var content = document.createDocumentFragment();
        append(content, nodes);
        view.replaceChildren(content);
        view.removeAttribute('aria-busy');
        // For load-time measurements: milliseconds from navigation start to this view on screen.
        if (window.performance && performance.mark) performance.mark('cg:rendered', { detail: hash });
        var heading = view.querySelector('h1');
        document.title = (heading ? heading.textContent : found.title) + ' · Common Ground console';
        if (firstRender && heading) {
          heading.setAttribute('tabindex', '-1');
          heading.focus();
        }
      })
      .catch(function (error) {
        if (ticket !== state.render || (error && error.status === 401)) return;
        view.removeAttribute('aria-busy');
        view.replaceChildren(h('h1', { text: found.title }), h('p', { class: 'error', role: 'alert', text: 'Could not load this page: ' + (error && error.message) }));
      });
  }

  /** Re-renders the current view after "ms", while the tab is visible. */
  function refreshIn(ms) {
    window.clearTimeout(state.timer);
    state.timer = window.setTimeout(function () {
      if (document.visibilityState === 'visible') route();
      else refreshIn(ms);
    }, ms);
  }

  function takeNotice() {
    var notice = state.notice;
    state.notice = '';
    // Not a live region itself: announce() has already spoken it.
    return notice ? h('p', { class: 'notice', text: notice }) : null;
  }

  // ---- Health -----------------------------------------------------------------------------------

  function rates(points, key) {
    var out = [];
    for (var i = 1; i < points.length; i += 1) {
      var a = points[i - 1];
      var b = points[i];
      var seconds = (b.at - a.at) / 1000;
      out.push({ at: b.at, value: a[key] === null || b[key] === null || seconds <= 0 ? null : Math.max(0, (b[key] - a[key]) / seconds) });
    }
    return out;
  }

  function levels(points, key) {
    return points.map(function (point) { return { at: point.at, value: point[key] }; });
  }

  function measured(points, key) {
    return points.some(function (point) { return point[key] !== null && point[key] !== undefined; });
  }

  /** An inline SVG line chart of "series" ({at, value}), gaps where a value is missing. */
  function sparkline(series, description, measured) {
    var width = 300;
    var height = 60;
    var known = series.filter(function (point) { return point.value !== null && point.value !== undefined; });
    var chart = s('svg', { viewBox: '0 0 ' + width + ' ' + height, preserveAspectRatio: 'none', role: 'img', 'aria-label': description });
    chart.appendChild(s('title', { text: description }));
    if (known.length < 2) {
      chart.appendChild(s('text', { x: 4, y: 36, class: 'empty', text: measured ? 'collecting samples…' : 'not measured in this process' }));
      return chart;
    }
    var t0 = series[0].at;
    var t1 = series[series.length - 1].at;
    var max = Math.max.apply(null, known.map(function (point) { return point.value; }));
    var top = max > 0 ? max * 1.1 : 1;
    var x = function (at) { return t1 === t0 ? 0 : ((at - t0) / (t1 - t0)) * width; };
    var y = function (value) { return height - 2 - (value / top) * (height - 4); };
    var segment = [];
    var flush = function () {
      if (segment.length > 1) {
        var line = segment.map(function (point) { return x(point.at).toFixed(1) + ',' + y(point.value).toFixed(1); }).join(' ');
        var first = segment[0];
        var last = segment[segment.length - 1];
        chart.appendChild(s('polygon', { class: 'area', points: x(first.at).toFixed(1) + ',' + height + ' ' + line + ' ' + x(last.at).toFixed(1) + ',' + height }));
        chart.appendChild(s('polyline', { class: 'line', points: line }));
      }
      segment = [];
    };
    series.forEach(function (point) {
      if (point.value === null || point.value === undefined) flush();
      else segment.push(point);
    });
    flush();
    return chart;
  }

  /** "measured": whether this process measures the quantity at all (a rate needs two samples before it shows). */
  function chartFigure(title, series, format, measured) {
    var known = series.filter(function (point) { return point.value !== null && point.value !== undefined; });
    var now = known.length ? known[known.length - 1].value : null;
    var values = known.map(function (point) { return point.value; });
    var low = values.length ? Math.min.apply(null, values) : null;
    var high = values.length ? Math.max.apply(null, values) : null;
    var description = title + ' over the last hour: ' + (known.length ? 'now ' + format(now) + ', lowest ' + format(low) + ', highest ' + format(high) : 'no data');
    return h('figure', { class: 'chart' }, [
      h('figcaption', {}, [h('span', { text: title }), h('strong', { text: format(now) })]),
      sparkline(series, description, measured || known.length > 0),
      h('p', { class: 'range' }, [h('span', { text: known.length ? 'low ' + format(low) : '' }), h('span', { text: known.length ? 'high ' + format(high) : '' })])
    ]);
  }

  function card(label, value, tone) {
    return h('li', { class: 'card' }, [h('span', { class: 'label', text: label }), h('span', { class: 'value ' + (tone || ''), text: value })]);
  }

  function viewHealth() {
    return api('/api/admin/console/overview').then(function (overview) {
      refreshIn(REFRESH_MS);
      var ready = overview.readiness;
      var snapshot = ready.snapshot;
      var points = overview.history.concat([overview.current]);
      var current = overview.current;
      var snapshotValue = !snapshot.applies ? 'not checked' : (snapshot.stale ? 'stale' : 'fresh') + ' (' + fmtDuration(snapshot.ageSeconds) + ')';
      return [
        h('h1', { text: 'Pipeline health' }),
        h('p', { class: 'lead', text: 'Role ' + overview.role + ' · updated ' + fmtTime(overview.now) + ' · refreshes every ' + REFRESH_MS / 1000 + ' s' }),
        h('ul', { class: 'cards', 'aria-label': 'Readiness' }, [
          card('Readiness', ready.ready ? 'Ready' : 'Not ready', ready.ready ? 'ok' : 'bad'),
          card('Message bus', ready.checks.bus ? 'Reachable' : 'Unreachable', ready.checks.bus ? 'ok' : 'bad'),
          card('ClickHouse', ready.checks.clickhouse ? 'Reachable' : 'Unreachable', ready.checks.clickhouse ? 'ok' : 'bad'),
          card('Score snapshots', snapshotValue, !snapshot.applies ? '' : snapshot.stale ? 'bad' : 'ok')
        ]),
        h('h2', { text: 'Throughput and lag, last hour' }),
        h('div', { class: 'charts' }, [
          chartFigure('Events received', rates(points, 'received'), fmtRate, measured(points, 'received')),
          chartFigure('Events written to ClickHouse', rates(points, 'written'), fmtRate, measured(points, 'written')),
          chartFigure('Jetstream lag behind real time', levels(points, 'jetstreamLagSeconds'), fmtDuration, false),
          chartFigure('Bus consumer lag (messages)', levels(points, 'busLag'), fmtCount, false),
          chartFigure('Newest snapshot age', levels(points, 'snapshotAgeSeconds'), fmtDuration, false),
          chartFigure('Feed requests', rates(points, 'feedRequests'), fmtRate, measured(points, 'feedRequests'))
        ]),
        h('h2', { text: 'Freshness' }),
        freshnessTable(snapshot),
        h('h2', { text: 'Totals in this process' }),
        h('table', {}, [
          h('caption', { class: 'visually-hidden', text: 'Running totals since this process started' }),
          h('tbody', {}, [
            ['Events received from Jetstream', current.received],
            ['Events published to the bus', current.published],
            ['Events written to ClickHouse', current.written],
            ['Messages dead-lettered', current.deadLettered],
            ['Feed requests served', current.feedRequests],
            ['Feed requests that failed (5xx)', current.feedServerErrors],
            ['Jetstream checkpoint lag', current.checkpointLagSeconds === null ? null : fmtDuration(current.checkpointLagSeconds)]
          ].map(function (row) {
            return h('tr', {}, [h('th', { scope: 'row', text: row[0] }), h('td', { class: 'num', text: typeof row[1] === 'string' ? row[1] : fmtCount(row[1]) })]);
          }))
        ])
      ];
    });
  }

  function freshnessTable(snapshot) {
    if (snapshot.feeds.length === 0) return h('p', { text: 'No ranked feeds: recent feeds read the newest posts directly.' });
    return h('table', {}, [
      h('caption', { text: 'Score snapshots of the ranked feeds (stale after ' + fmtDuration(snapshot.staleAfterSeconds) + ')' }),
      h('thead', {}, h('tr', {}, [
        h('th', { scope: 'col', text: 'Feed' }),
        h('th', { scope: 'col', class: 'num', text: 'Posts ranked' }),
        h('th', { scope: 'col', class: 'num', text: 'Age' }),
        h('th', { scope: 'col', text: 'Status' })
      ])),
      h('tbody', {}, snapshot.feeds.map(function (feed) {
        var stale = feed.ageSeconds === null || feed.ageSeconds > snapshot.staleAfterSeconds;
        return h('tr', {}, [
          h('th', { scope: 'row' }, h('a', { href: '#/feeds/' + encodeURIComponent(feed.shortname), text: feed.shortname })),
          h('td', { class: 'num', text: fmtCount(feed.posts) }),
          h('td', { class: 'num', text: fmtDuration(feed.ageSeconds) }),
          h('td', { class: stale ? 'bad' : 'ok', text: feed.ageSeconds === null ? 'no snapshot yet' : stale ? 'stale' : 'fresh' })
        ]);
      }))
    ]);
  }

  // ---- Communities --------------------------------------------------------------------------------

  function plural(count, one, many) { return count + ' ' + (count === 1 ? one : many); }

  function sourcesSummary(members) {
    var parts = [];
    if (members.dids.length) parts.push(plural(members.dids.length, 'account', 'accounts'));
    if (members.handles.length) parts.push(plural(members.handles.length, 'handle', 'handles'));
    if (members.lists.length) parts.push(plural(members.lists.length, 'list', 'lists'));
    if (members.starterPacks.length) parts.push(plural(members.starterPacks.length, 'starter pack', 'starter packs'));
    if (members.hashtags.length) parts.push('hashtags: ' + members.hashtags.map(function (tag) { return '#' + tag; }).join(', '));
    if (members.followersOf.length) parts.push('followers of ' + plural(members.followersOf.length, 'account', 'accounts'));
    if (members.exclude.length) parts.push(plural(members.exclude.length, 'exclusion', 'exclusions'));
    return parts.join(' · ') || 'no sources';
  }

  function curationProblem(curation) {
    return curation.lastProblem
      ? h('div', { class: 'error', role: 'alert' }, [h('strong', { text: 'The curator file has a mistake; the previous definitions stay in force. ' }), curation.lastProblem])
      : null;
  }

  function viewCommunities() {
    return api('/api/admin/curation').then(function (curation) {
      var rows = curation.communities.map(function (community) {
        var count = h('td', { class: 'num', 'data-members': community.id, text: '…' });
        api('/api/admin/communities/' + encodeURIComponent(community.id) + '/members').then(
          function (members) { count.textContent = fmtCount(members.count); },
          function () { count.textContent = 'unavailable'; }
        );
        var feeds = curation.feeds.filter(function (feed) { return feed.communities.indexOf(community.id) >= 0; });
        return h('tr', {}, [
          h('th', { scope: 'row' }, [community.name || community.id, h('br'), h('code', { class: 'hint', text: community.id })]),
          count,
          h('td', { text: sourcesSummary(community.members) }),
          h('td', {}, feeds.length ? feeds.map(function (feed, index) {
            return [index ? ', ' : '', h('a', { href: '#/feeds/' + encodeURIComponent(feed.shortname), text: feed.shortname })];
          }) : 'none'),
          h('td', {}, h('a', { href: '#/communities/' + encodeURIComponent(community.id) + '/edit', 'aria-label': 'Edit ' + (community.name || community.id), text: 'Edit' }))
        ]);
      });
      return [
        h('h1', { text: 'Communities' }),
        h('p', { class: 'lead', text: 'Who belongs, and from which sources. Curation file: ' + curation.file }),
        takeNotice(),
        curationProblem(curation),
        h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/communities/new', text: 'New community' })),
        rows.length === 0 ? h('p', { text: 'No communities yet.' }) : h('table', {}, [
          h('caption', { text: plural(rows.length, 'community', 'communities') }),
          h('thead', {}, h('tr', {}, [
            h('th', { scope: 'col', text: 'Community' }),
            h('th', { scope: 'col', class: 'num', text: 'Members' }),
            h('th', { scope: 'col', text: 'Sources' }),
            h('th', { scope: 'col', text: 'Feeds' }),
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: 'Actions' }))
          ])),
          h('tbody', {}, rows)
        ])
      ];
    });
  }

  function field(id, label, control, hint) {
    if (hint) control.setAttribute('aria-describedby', id + '-hint');
    return h('div', { class: 'field' }, [h('label', { for: id, text: label }), hint ? h('span', { class: 'hint', id: id + '-hint', text: hint }) : null, control]);
  }

  function lines(value) {
    return value.split(/[\n,]/).map(function (line) { return line.trim(); }).filter(Boolean);
  }

  function formError() {
    return h('div', { class: 'error', role: 'alert', tabindex: '-1', hidden: true });
  }

  function showFormError(box, error) {
    box.replaceChildren(h('strong', { text: 'Not saved. ' }), error.message);
    box.hidden = false;
    box.focus();
  }

  function viewCommunityForm(id) {
    return api('/api/admin/curation').then(function (curation) {
      var existing = id === null ? null : curation.communities.filter(function (community) { return community.id === id; })[0];
      if (id !== null && !existing) throw new ApiError(404, 'There is no community "' + id + '".');
      var members = existing ? existing.members : {};
      var error = formError();
      var idInput = h('input', { id: 'community-id', name: 'id', type: 'text', required: true, pattern: '[A-Za-z0-9_-]+', autocomplete: 'off' });
      var name = h('input', { id: 'community-name', name: 'name', type: 'text', value: existing ? existing.name : '' });
      var description = h('textarea', { id: 'community-description', name: 'description', rows: 2 });
      description.value = existing ? existing.description : '';
      var sources = MEMBER_SOURCES.map(function (source) {
        var area = h('textarea', { id: 'members-' + source[0], name: source[0], rows: 3 });
        area.value = (members[source[0]] || []).join('\n');
        return { key: source[0], control: area, node: field('members-' + source[0], source[1], area, source[2] + '; one per line') };
      });
      var save = h('button', { type: 'submit', text: 'Save community' });
      var form = h('form', { class: 'stack', novalidate: true, onsubmit: function (event) {
        event.preventDefault();
        var target = existing ? existing.id : idInput.value.trim();
        if (!/^[A-Za-z0-9_-]+$/.test(target)) {
          showFormError(error, { message: 'The community id must be letters, digits, - or _.' });
          return;
        }
        // Kept as it was: the console does not edit allowSelfEnrolment, and a save must not drop it.
        var body = { name: name.value.trim() || undefined, description: description.value.trim() || undefined, members: {}, allowSelfEnrolment: existing && existing.allowSelfEnrolment ? true : undefined };
        sources.forEach(function (source) {
          var values = lines(source.control.value);
          if (values.length) body.members[source.key] = values;
        });
        save.disabled = true;
        api('/api/admin/communities/' + encodeURIComponent(target), { method: 'PUT', body: body }).then(
          function () {
            state.notice = 'Saved community ' + target + '.';
            announce(state.notice);
            location.hash = '#/communities';
          },
          function (failure) {
            save.disabled = false;
            if (failure.status !== 401) showFormError(error, failure);
          }
        );
      } }, [
        existing ? null : field('community-id', 'Id', idInput, 'Letters, digits, - and _; feeds name communities by it'),
        field('community-name', 'Name', name),
        field('community-description', 'Description', description),
        h('fieldset', {}, [h('legend', { text: 'Members' })].concat(sources.map(function (source) { return source.node; }))),
        error,
        h('div', { class: 'actions' }, [
          save,
          h('a', { class: 'button secondary', href: '#/communities', text: 'Cancel' }),
          existing ? h('button', { type: 'button', class: 'danger', text: 'Delete community', onclick: function () {
            if (!window.confirm('Delete the community "' + existing.id + '"? Feeds that name it must be changed first.')) return;
            api('/api/admin/communities/' + encodeURIComponent(existing.id), { method: 'DELETE' }).then(
              function () {
                state.notice = 'Deleted community ' + existing.id + '.';
                announce(state.notice);
                location.hash = '#/communities';
              },
              function (failure) { if (failure.status !== 401) showFormError(error, failure); }
            );
          } }) : null
        ])
      ]);
      return [
        h('h1', { text: existing ? 'Edit community: ' + (existing.name || existing.id) : 'New community' }),
        h('p', { class: 'lead', text: 'Saved to the curator file with the same checks as the file itself; every process picks the change up.' }),
        curationProblem(curation),
        form
      ];
    });
  }

  // ---- Feeds ------------------------------------------------------------------------------------

  function viewFeeds() {
    return Promise.all([api('/api/admin/curation'), api('/api/admin/console/overview')]).then(function (results) {
      var curation = results[0];
      var freshness = {};
      results[1].readiness.snapshot.feeds.forEach(function (feed) { freshness[feed.shortname] = feed; });
      return [
        h('h1', { text: 'Feeds' }),
        h('p', { class: 'lead', text: 'What each feed shows, and why. Open a preview to see the posts with their provenance and score components.' }),
        takeNotice(),
        curationProblem(curation),
        h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/feeds/new', text: 'New feed' })),
        curation.feeds.length === 0 ? h('p', { text: 'No feeds yet.' }) : h('table', {}, [
          h('caption', { text: plural(curation.feeds.length, 'feed', 'feeds') }),
          h('thead', {}, h('tr', {}, [
            h('th', { scope: 'col', text: 'Feed' }),
            h('th', { scope: 'col', text: 'Ranking' }),
            h('th', { scope: 'col', text: 'Communities' }),
            h('th', { scope: 'col', text: 'Audience' }),
            h('th', { scope: 'col', class: 'num', text: 'Snapshot age' }),
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: 'Actions' }))
          ])),
          h('tbody', {}, curation.feeds.map(function (feed) {
            var fresh = freshness[feed.shortname];
            return h('tr', {}, [
              h('th', { scope: 'row' }, [h('a', { href: '#/feeds/' + encodeURIComponent(feed.shortname), text: feed.displayName }), h('br'), h('code', { class: 'hint', text: feed.shortname })]),
              h('td', { text: feed.ranking }),
              h('td', { text: feed.communities.join(', ') }),
              h('td', { text: feed.membersOnly ? 'members only' : 'everyone' }),
              h('td', { class: 'num', text: feed.ranking === 'recent' ? 'live' : fresh ? fmtDuration(fresh.ageSeconds) : '—' }),
              h('td', {}, [
                h('a', { href: '#/feeds/' + encodeURIComponent(feed.shortname), 'aria-label': 'Preview ' + feed.displayName, text: 'Preview' }),
                ' · ',
                h('a', { href: '#/feeds/' + encodeURIComponent(feed.shortname) + '/edit', 'aria-label': 'Edit ' + feed.displayName, text: 'Edit' })
              ])
            ]);
          }))
        ])
      ];
    });
  }

  function bskyLink(uri) {
    var match = /^at:\/\/([^/]+)\/app\.bsky\.feed\.post\/([^/]+)$/.exec(uri);
    return match ? 'https://bsky.app/profile/' + match[1] + '/post/' + match[2] : null;
  }

  /** A component's value: numbers and lists of names inline, structures as indented JSON. */
  function componentValue(value) {
    if (Array.isArray(value) && value.every(function (entry) { return typeof entry === 'string'; })) {
      return value.length ? value.join(', ') : 'none';
    }
    if (Array.isArray(value) && value.length > 0 && value.every(function (entry) { return entry !== null && typeof entry === 'object' && !Array.isArray(entry); })) {
      return evidenceTable(value);
    }
    if (value !== null && typeof value === 'object') return h('pre', { text: JSON.stringify(value, null, 2) });
    return fmtValue(value);
  }

  /** Nested evidence in one line: "negative (approvals 8.2 · exposure 8 · rate 0.92) · positive (…)". */
  function compact(value) {
    if (value === null || value === undefined) return '';
    if (Array.isArray(value)) return value.map(compact).join(', ');
    if (typeof value === 'object') {
      return Object.keys(value).map(function (key) {
        var inner = value[key];
        return inner !== null && typeof inner === 'object' ? key + ' (' + compact(inner) + ')' : key + ' ' + fmtValue(inner);
      }).join(' · ');
    }
    return fmtValue(value);
  }

  /** Per-group evidence (approvals, exposure, rate, …) as a table: one row per group. */
  function evidenceTable(rows) {
    var columns = [];
    rows.forEach(function (row) {
      Object.keys(row).forEach(function (key) { if (columns.indexOf(key) < 0) columns.push(key); });
    });
    var cell = function (value) { return compact(value); };
    return h('table', { class: 'evidence' }, [
      h('thead', {}, h('tr', {}, columns.map(function (key) { return h('th', { scope: 'col', text: key }); }))),
      h('tbody', {}, rows.map(function (row) {
        return h('tr', {}, columns.map(function (key, index) {
          return index === 0 ? h('th', { scope: 'row', text: cell(row[key]) }) : h('td', { text: cell(row[key]) });
        }));
      }))
    ]);
  }

  function componentsTable(components) {
    var keys = Object.keys(components || {});
    if (keys.length === 0) return h('p', { text: 'No components recorded.' });
    return h('table', { class: 'components' }, [
      h('caption', { class: 'visually-hidden', text: 'Score components' }),
      h('tbody', {}, keys.map(function (key) {
        return h('tr', {}, [h('th', { scope: 'row', text: key }), h('td', {}, componentValue(components[key]))]);
      }))
    ]);
  }

  function provenanceChips(provenance) {
    if (!provenance || (provenance.supportedBy.length === 0 && provenance.divisiveIn.length === 0)) {
      return h('p', { class: 'meta', text: 'No provenance: no community stands out for or against this post.' });
    }
    var chips = provenance.supportedBy.map(function (name) { return h('li', { class: 'chip support', text: 'supported by ' + name }); })
      .concat(provenance.divisiveIn.map(function (name) { return h('li', { class: 'chip divisive', text: 'divisive in ' + name }); }));
    if (provenance.omitted) chips.push(h('li', { class: 'chip', text: '+' + provenance.omitted + ' more' }));
    return h('ul', { class: 'chips', 'aria-label': 'Provenance: ' + provenance.summary }, chips);
  }

  /** Asks the explanation endpoint once, when a post's details are first opened: the live answer for this post. */
  function loadExplanation(details, path) {
    if (details.getAttribute('data-explained')) return;
    details.setAttribute('data-explained', 'loading');
    var line = h('p', { class: 'meta explanation', text: 'Asking the explanation endpoint…' });
    details.appendChild(line);
    api(path).then(
      function (explanation) {
        line.textContent = explanation.rank === null
          ? 'Explanation endpoint: not ranked now. ' + (explanation.reason || '')
          : 'Explanation endpoint: rank ' + explanation.rank + ' in snapshot ' + explanation.snapshot + ', score ' + fmtValue(explanation.score) + '.';
      },
      function (error) { line.textContent = 'The explanation endpoint did not answer: ' + error.message; }
    );
  }

  function viewFeedPreview(shortname) {
    var limit = Number(sessionStorage.getItem('common-ground.preview-limit') || 30);
    var started = performance.now();
    return api('/api/admin/feeds/' + encodeURIComponent(shortname) + '/preview?limit=' + limit).then(function (preview) {
      var loadedMs = Math.round(performance.now() - started);
      var select = h('select', { id: 'preview-limit', onchange: function () {
        sessionStorage.setItem('common-ground.preview-limit', select.value);
        route();
      } }, [10, 30, 100].map(function (n) { return h('option', { value: n, selected: n === limit, text: 'Top ' + n }); }));
      var about = preview.ranking === 'recent'
        ? 'Newest posts first, read live.'
        : preview.snapshot
          ? 'Snapshot ' + preview.snapshot.id + ' of ' + fmtCount(preview.snapshot.posts) + ' ranked posts, completed ' + preview.snapshot.completedAt + '.'
          : 'No snapshot yet: the scoring service has not ranked this feed.';
      var items = preview.items.map(function (item) {
        var link = bskyLink(item.post);
        var explain = '/api/feeds/' + encodeURIComponent(shortname) + '/explain?post=' + encodeURIComponent(item.post) +
          (preview.snapshot ? '&snapshot=' + preview.snapshot.id : '');
        return h('li', {}, [
          h('span', { class: 'rank', 'aria-label': 'Rank ' + item.rank, text: item.rank }),
          h('p', { class: 'text', text: item.text === null ? '(text not in the store)' : item.text || '(no text)' }),
          h('p', { class: 'meta' }, [
            link ? h('a', { href: link, rel: 'noopener noreferrer', target: '_blank', text: 'View on Bluesky' }) : null,
            link ? ' · ' : null,
            item.postedAtUs ? 'posted ' + new Date(item.postedAtUs / 1000).toLocaleString('en-GB') + ' · ' : null,
            h('code', { text: item.post })
          ]),
          provenanceChips(item.provenance),
          h('details', { ontoggle: function (event) { if (event.target.open) loadExplanation(event.target, explain); } }, [
            h('summary', { text: 'Why here?' + (item.score === null ? '' : ' Score ' + fmtValue(item.score)) }),
            componentsTable(item.components),
            item.feedContext ? h('p', { class: 'meta' }, ['feedContext sent to clients: ', h('code', { text: item.feedContext })]) : null
          ])
        ]);
      });
      return [
        h('h1', { text: preview.displayName }),
        h('p', { class: 'lead', text: preview.feed + ' · ' + preview.ranking + ' · ' + about }),
        h('div', { class: 'actions' }, [
          h('label', { for: 'preview-limit', text: 'Show' }),
          select,
          h('button', { type: 'button', class: 'secondary', text: 'Refresh', onclick: function () { route(); announce('Preview refreshed'); } }),
          h('a', { class: 'button secondary', href: '#/feeds/' + encodeURIComponent(shortname) + '/edit', text: 'Edit feed' })
        ]),
        items.length === 0
          ? h('p', { class: 'notice', text: 'The feed is empty right now.' })
          : h('ol', { class: 'preview', 'aria-label': 'Top ' + items.length + ' posts of ' + preview.displayName }, items),
        h('p', { class: 'hint', text: 'Loaded ' + preview.items.length + ' posts in ' + loadedMs + ' ms.' })
      ];
    });
  }

  function viewFeedForm(shortname) {
    return api('/api/admin/curation').then(function (curation) {
      var existing = shortname === null ? null : curation.feeds.filter(function (feed) { return feed.shortname === shortname; })[0];
      if (shortname !== null && !existing) throw new ApiError(404, 'There is no feed "' + shortname + '".');
      var feed = existing || { displayName: '', description: '', communities: [], ranking: 'recent', membersOnly: false, includeReplies: false, balance: 'equal' };
      var error = formError();
      var idInput = h('input', { id: 'feed-shortname', type: 'text', required: true, maxlength: 15, pattern: '[a-z0-9-]+', autocomplete: 'off' });
      var displayName = h('input', { id: 'feed-display-name', type: 'text', maxlength: 24, required: true, value: feed.displayName });
      var description = h('textarea', { id: 'feed-description', rows: 3, maxlength: 300 });
      description.value = feed.description || '';
      var ranking = h('select', { id: 'feed-ranking' }, RANKINGS.map(function (name) { return h('option', { value: name, selected: name === feed.ranking, text: name }); }));
      var windowHours = h('input', { id: 'feed-window', type: 'number', min: 1, step: 'any', value: existing ? feed.windowHours : '' });
      var halfLife = h('input', { id: 'feed-half-life', type: 'number', min: 0.1, step: 'any', value: existing ? feed.halfLifeHours : '' });
      var balance = h('input', { id: 'feed-balance', type: 'text', value: typeof feed.balance === 'string' ? feed.balance : JSON.stringify(feed.balance) });
      var membersOnly = h('input', { id: 'feed-members-only', type: 'checkbox', checked: Boolean(feed.membersOnly) });
      var includeReplies = h('input', { id: 'feed-replies', type: 'checkbox', checked: Boolean(feed.includeReplies) });
      var communityBoxes = curation.communities.map(function (community) {
        var box = h('input', { type: 'checkbox', id: 'feed-community-' + community.id, value: community.id, checked: feed.communities.indexOf(community.id) >= 0 });
        return { box: box, node: h('label', { for: 'feed-community-' + community.id }, [box, ' ' + (community.name || community.id)]) };
      });
      var save = h('button', { type: 'submit', text: 'Save feed' });
      var form = h('form', { class: 'stack', novalidate: true, onsubmit: function (event) {
        event.preventDefault();
        var target = existing ? existing.shortname : idInput.value.trim();
        if (!/^[a-z0-9-]{1,15}$/.test(target)) {
          showFormError(error, { message: 'The short name must be 1–15 lower-case letters, digits or -.' });
          return;
        }
        var balanceValue = balance.value.trim();
        if (balanceValue && balanceValue !== 'equal') {
          try { balanceValue = JSON.parse(balanceValue); } catch (parseError) {
            showFormError(error, { message: 'Balance must be "equal" or a JSON object of shares, e.g. {"positive": 0.5, "negative": 0.5}.' });
            return;
          }
        }
        var body = {
          displayName: displayName.value.trim(),
          description: description.value.trim() || undefined,
          communities: communityBoxes.filter(function (entry) { return entry.box.checked; }).map(function (entry) { return entry.box.value; }),
          ranking: ranking.value,
          membersOnly: membersOnly.checked,
          includeReplies: includeReplies.checked,
          windowHours: windowHours.value === '' ? undefined : Number(windowHours.value),
          halfLifeHours: halfLife.value === '' ? undefined : Number(halfLife.value),
          balance: balanceValue || undefined
        };
        save.disabled = true;
        api('/api/admin/feeds/' + encodeURIComponent(target), { method: 'PUT', body: body }).then(
          function () {
            state.notice = 'Saved feed ' + target + '.';
            announce(state.notice);
            location.hash = '#/feeds';
          },
          function (failure) {
            save.disabled = false;
            if (failure.status !== 401) showFormError(error, failure);
          }
        );
      } }, [
        existing ? null : field('feed-shortname', 'Short name', idInput, 'The record key of the feed: 1–15 lower-case letters, digits or -'),
        field('feed-display-name', 'Display name', displayName, 'At most 24 characters'),
        field('feed-description', 'Description', description, 'At most 300 characters'),
        h('fieldset', {}, [h('legend', { text: 'Communities' }), h('div', { class: 'checks' }, communityBoxes.map(function (entry) { return entry.node; }))]),
        field('feed-ranking', 'Ranking', ranking, 'recent: newest first · bridging: across the communities · bridging-within: across the divide inside them · balanced: both sides in every stretch'),
        field('feed-window', 'Window (hours)', windowHours, 'Posts older than this are not shown; empty for the default'),
        field('feed-half-life', 'Half-life (hours)', halfLife, 'Ranked feeds: a score halves every this many hours'),
        field('feed-balance', 'Balance', balance, 'balanced feeds: "equal", or a JSON object of shares per side'),
        h('div', { class: 'checks' }, [
          h('label', { for: 'feed-members-only' }, [membersOnly, ' Members only']),
          h('label', { for: 'feed-replies' }, [includeReplies, ' Include replies'])
        ]),
        error,
        h('div', { class: 'actions' }, [
          save,
          h('a', { class: 'button secondary', href: existing ? '#/feeds/' + encodeURIComponent(existing.shortname) : '#/feeds', text: 'Cancel' }),
          existing ? h('button', { type: 'button', class: 'danger', text: 'Delete feed', onclick: function () {
            if (!window.confirm('Delete the feed "' + existing.shortname + '"? Subscribers will get UnknownFeed.')) return;
            api('/api/admin/feeds/' + encodeURIComponent(existing.shortname), { method: 'DELETE' }).then(
              function () {
                state.notice = 'Deleted feed ' + existing.shortname + '.';
                announce(state.notice);
                location.hash = '#/feeds';
              },
              function (failure) { if (failure.status !== 401) showFormError(error, failure); }
            );
          } }) : null
        ])
      ]);
      return [
        h('h1', { text: existing ? 'Edit feed: ' + existing.displayName : 'New feed' }),
        h('p', { class: 'lead', text: 'Saved to the curator file with the same checks as the file itself.' }),
        curationProblem(curation),
        form
      ];
    });
  }

  // ---- Start ------------------------------------------------------------------------------------

  function start() {
    byId('login-form').addEventListener('submit', onLogin);
    byId('sign-out').addEventListener('click', function () {
      signOut('');
      announce('Signed out');
    });
    window.addEventListener('hashchange', route);
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'visible' && state.token && (location.hash || '#/health') === '#/health') route();
    });
    route();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
`;
