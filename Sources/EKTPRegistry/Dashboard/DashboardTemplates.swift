/// The dashboard's Mustache templates, its one stylesheet and its one script (issue 15): compiled
/// into the binary, so the registry serves every byte of its pages itself (an office may reach
/// the registry and nothing else; no CDN, no build step). `{{x}}` escapes HTML; `{{{x}}}` is used
/// only for markup the registry rendered itself.
enum DashboardTemplates {
    static let all: [String: String] = [
        "layout": layout, "login": login, "overview": overview, "cannotEnrol": cannotEnrol, "repairs": repairs,
        "attention": attention, "blanks": blanks, "station": station, "search": search, "message": message,
    ]

    static let layout = #"""
        <!doctype html>
        <html lang="{{lang}}">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · {{t.brand}}</title>
        <link rel="stylesheet" href="/static/dashboard.css">
        {{#viewer}}<script src="/static/live.js" defer></script>{{/viewer}}
        </head>
        <body>
        <a class="skip" href="#main">{{t.overview}}</a>
        <header>
        <a class="brand" href="/">{{t.brand}}</a>
        <nav class="lang" aria-label="Bahasa / Language">{{#languages}}<a href="?lang={{code}}" lang="{{code}}"{{#current}} aria-current="true"{{/current}}>{{label}}</a> {{/languages}}</nav>
        {{#viewer}}
        <nav aria-label="{{t.nav}}">
        {{#nav}}<a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{word}}</a>{{/nav}}
        </nav>
        <form class="search" action="/search" method="get" role="search">
        <label for="q" class="vh">{{t.searchLabel}}</label>
        <input id="q" name="q" type="search" value="{{query}}" placeholder="{{t.searchPlaceholder}}">
        <button type="submit">{{t.search}}</button>
        </form>
        <form class="who" action="/logout" method="post">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <span>{{name}} · {{t.scope}}: {{scopeText}}</span>
        <button type="submit">{{t.logout}}</button>
        </form>
        {{/viewer}}
        </header>
        <main id="main" tabindex="-1">
        <h1>{{title}}</h1>
        {{#viewer}}<p class="updated" aria-live="polite">{{t.updated}} <time id="updated" data-version="{{version}}">{{updated}}</time> · <span id="live-state">{{t.live}}</span></p>{{/viewer}}
        {{{body}}}
        </main>
        </body>
        </html>
        """#

    static let message = #"""
        <p class="notice {{cls}}">{{text}}</p>
        """#

    static let login = #"""
        {{#error}}<p class="notice bad" role="alert">{{error}}</p>{{/error}}
        <form class="login" action="/login" method="post">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="next" value="{{next}}">
        <label for="user">{{t.user}}</label>
        <input id="user" name="user" autocomplete="username" required value="{{user}}" autofocus>
        <label for="password">{{t.password}}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <button type="submit">{{t.login}}</button>
        </form>
        """#

    /// A level of the fleet: each line opens the next level (a province its regencies, a regency
    /// its districts, a district its stations); the worst first.
    static let overview = #"""
        <nav class="crumbs" aria-label="{{t.place}}">{{#crumbs}}<a href="{{href}}">{{name}}</a> › {{/crumbs}}<span>{{here}}</span></nav>
        <ul class="tiles">
        {{#tiles}}<li class="tile {{cls}}"><span class="n">{{n}}</span> <span class="w">{{word}}</span></li>{{/tiles}}
        </ul>
        <div class="tree">
        <div class="row head" aria-hidden="true"><span class="name">{{t.place}}</span><span>{{t.state}}</span>{{#columns}}<span class="num">{{.}}</span>{{/columns}}</div>
        {{#lines}}
        <details class="{{cls}}"{{#open}} open{{/open}}{{#anchor}} id="{{anchor}}"{{/anchor}}>
        <summary class="row"><span class="name">{{name}}</span><span class="tag {{cls}}">{{word}}</span>{{#cells}}<span class="num {{cls}}" title="{{label}}"><span class="vh">{{label}}: </span>{{n}}</span>{{/cells}}</summary>
        <div class="children">
        {{#href}}<p class="open"><a href="{{href}}">{{openWord}} {{name}} ›</a></p>{{/href}}
        {{#hasChildren}}<table class="sub"><thead class="vh"><tr><th>{{t.place}}</th><th>{{t.state}}</th>{{#columns}}<th>{{.}}</th>{{/columns}}</tr></thead><tbody>
        {{#children}}<tr class="{{cls}}"><th scope="row"><a href="{{href}}">{{name}}</a></th><td><span class="tag {{cls}}">{{word}}</span></td>{{#cells}}<td class="num {{cls}}">{{n}}</td>{{/cells}}{{#reason}}<td class="reason">{{reason}}</td>{{/reason}}</tr>
        {{/children}}</tbody></table>{{/hasChildren}}
        </div>
        </details>
        {{/lines}}
        {{^lines}}<p class="notice">{{t.noSnapshot}}</p>{{/lines}}
        </div>
        """#

    static let filters = #"""
        <form class="filters" method="get">
        <label for="region">{{t.region}}</label>
        <select id="region" name="region">{{#regions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/regions}}</select>
        {{#hasKinds}}<label for="kind">{{t.kind}}</label>
        <select id="kind" name="kind">{{#kinds}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/kinds}}</select>{{/hasKinds}}
        <input type="hidden" name="sort" value="{{sort}}">
        <button type="submit">{{t.filter}}</button>
        </form>
        """#

    static let cannotEnrol = filters + #"""
        <p class="lead">{{t.cannotEnrolLead}} <strong>{{count}}</strong></p>
        {{#hasRows}}
        <table class="list sortable">
        <thead><tr>{{#headers}}<th scope="col"{{#sorted}} aria-sort="{{sorted}}"{{/sorted}}>{{#href}}<a href="{{href}}">{{word}}</a>{{/href}}{{^href}}{{word}}{{/href}}</th>{{/headers}}</tr></thead>
        <tbody>
        {{#rows}}<tr class="bad" data-station="{{station}}"><td><a href="{{stationHref}}">{{district}}</a><br><small>{{regency}}, {{province}}</small></td><td>{{kind}}<br><small>{{model}}</small></td><td><code>{{port}}</code></td><td>{{reason}}</td><td><time>{{since}}</time><br><small>{{forHowLong}}</small></td></tr>
        {{/rows}}
        </tbody>
        </table>
        {{#pager}}<nav class="pager" aria-label="{{t.pages}}">{{#previous}}<a href="{{previous}}" rel="prev">‹ {{t.previous}}</a>{{/previous}} <span>{{text}}</span> {{#next}}<a href="{{next}}" rel="next">{{t.next}} ›</a>{{/next}}</nav>{{/pager}}
        {{/hasRows}}
        {{^rows}}<p class="notice ok">{{t.noneCannotEnrol}}</p>{{/rows}}
        """#

    static let repairs = filters + #"""
        <p class="lead">{{t.repairsLead}}</p>
        {{#hasGroups}}
        <table class="list">
        <thead><tr><th scope="col">{{t.kind}}</th><th scope="col">{{t.model}}</th><th scope="col" class="num">{{t.broken_devices}}</th><th scope="col" class="num">{{t.missing_devices}}</th><th scope="col">{{t.longestBroken}}</th></tr></thead>
        <tbody>{{#groups}}<tr data-kind="{{kindKey}}"><td>{{kind}}</td><td>{{model}}</td><td class="num">{{failed}}</td><td class="num">{{missing}}</td><td>{{longest}}</td></tr>{{/groups}}</tbody>
        <tfoot><tr><th scope="row" colspan="2">{{t.stations}}: {{stationCount}}</th><td class="num">{{failedTotal}}</td><td class="num">{{missingTotal}}</td><td></td></tr></tfoot>
        </table>
        <h2>{{t.devicesToRepair}}</h2>
        <table class="list">
        <thead><tr><th scope="col">{{t.site}}</th><th scope="col">{{t.device}}</th><th scope="col">{{t.health}}</th><th scope="col">{{t.reason}}</th><th scope="col">{{t.forHowLong}}</th></tr></thead>
        <tbody>{{#rows}}<tr class="{{cls}}"><td><a href="{{stationHref}}">{{district}}</a><br><small>{{regency}}</small></td><td>{{kind}}<br><small>{{model}} <code>{{port}}</code></small></td><td><span class="tag {{cls}}">{{health}}</span></td><td>{{reason}}</td><td>{{forHowLong}}<br><small>{{since}}</small></td></tr>{{/rows}}</tbody>
        </table>
        {{/hasGroups}}
        {{^groups}}<p class="notice ok">{{t.noneRepairs}}</p>{{/groups}}
        """#

    static let attention = #"""
        <p class="lead">{{t.attentionLead}}</p>
        <h2>{{t.notPulledTitle}} <small>({{notPulledCount}})</small></h2>
        {{#hasNotPulled}}<table class="list"><thead><tr><th scope="col">{{t.site}}</th><th scope="col">{{t.station}}</th><th scope="col">{{t.lastPull}}</th><th scope="col">{{t.forHowLong}}</th></tr></thead>
        <tbody>{{#notPulled}}<tr class="warn"><td>{{district}}<br><small>{{regency}}, {{province}}</small></td><td><a href="{{stationHref}}">{{station}}</a></td><td>{{when}}</td><td>{{ago}}</td></tr>{{/notPulled}}</tbody></table>{{/hasNotPulled}}
        {{^notPulled}}<p class="notice ok">{{t.noneNotPulled}}</p>{{/notPulled}}
        <h2>{{t.silentTitle}} <small>({{silentCount}})</small></h2>
        {{#hasSilent}}<table class="list"><thead><tr><th scope="col">{{t.site}}</th><th scope="col">{{t.station}}</th><th scope="col">{{t.lastHeard}}</th><th scope="col">{{t.forHowLong}}</th></tr></thead>
        <tbody>{{#silent}}<tr class="silent"><td>{{district}}<br><small>{{regency}}, {{province}}</small></td><td><a href="{{stationHref}}">{{station}}</a></td><td>{{when}}</td><td>{{ago}}</td></tr>{{/silent}}</tbody></table>{{/hasSilent}}
        {{^silent}}<p class="notice ok">{{t.noneSilent}}</p>{{/silent}}
        """#

    static let blanks = #"""
        <p class="lead">{{t.blanksLead}}</p>
        {{#hasRows}}<table class="list">
        <thead><tr><th scope="col">{{t.office}}</th><th scope="col" class="num">{{t.cardBlanks}}</th><th scope="col" class="num">{{t.perDay}}</th><th scope="col" class="num">{{t.daysLeft}}</th><th scope="col">{{t.printers}}</th><th scope="col">{{t.updated}}</th></tr></thead>
        <tbody>{{#rows}}<tr class="{{cls}}"><td><a href="{{stationHref}}">{{district}}</a><br><small>{{regency}}, {{province}}</small></td><td class="num">{{blanks}}</td><td class="num">{{perDay}}</td><td class="num"><span class="tag {{cls}}">{{daysLeft}}</span></td><td>{{printers}}</td><td>{{updated}}</td></tr>{{/rows}}</tbody>
        </table>{{/hasRows}}
        {{^rows}}<p class="notice">{{t.noneBlanks}}</p>{{/rows}}
        """#

    static let station = #"""
        <p class="site">{{district}} · {{regency}} · {{province}} <code>{{stationID}}</code></p>
        <p class="state"><span class="tag big {{cls}}">{{word}}</span> {{t.since}} <time>{{since}}</time> ({{forHowLong}})</p>
        {{#hasReasons}}<ul class="reasons">{{#reasons}}<li>{{.}}</li>{{/reasons}}</ul>{{/hasReasons}}
        {{#skew}}<p class="notice warn">{{t.clockSkewed}} {{skew}}.</p>{{/skew}}
        <dl class="facts">
        {{#facts}}<div><dt>{{label}}</dt><dd class="{{cls}}">{{value}}</dd></div>{{/facts}}
        </dl>
        <h2>{{t.kit7d}}</h2>
        <figure class="chart">{{{chart}}}<figcaption>{{chartText}}</figcaption></figure>
        <h2>{{t.devices}}</h2>
        {{#hasDevices}}<table class="list">
        <thead><tr><th scope="col">{{t.kind}}</th><th scope="col">{{t.model}}</th><th scope="col">{{t.port}}</th><th scope="col">{{t.health}}</th><th scope="col">{{t.reason}}</th><th scope="col">{{t.since}}</th></tr></thead>
        <tbody>{{#devices}}<tr class="{{cls}}"><td>{{kind}}</td><td>{{model}}</td><td><code>{{port}}</code></td><td><span class="tag {{cls}}">{{health}}</span></td><td>{{reason}}</td><td>{{since}}</td></tr>{{/devices}}</tbody>
        </table>{{/hasDevices}}
        {{^devices}}<p class="notice">{{t.noSnapshot}}</p>{{/devices}}
        <h2>{{t.recentEvents}}</h2>
        <ol class="timeline">{{#events}}<li class="{{cls}}"><time>{{time}}</time> <span>{{text}}</span></li>{{/events}}</ol>
        """#

    static let search = #"""
        <p class="lead">{{t.searchLead}} “{{query}}”</p>
        {{#hasHits}}<ul class="hits">{{#hits}}<li><a href="{{href}}">{{station}}</a> · {{district}}, {{regency}}, {{province}} <span class="tag {{cls}}">{{word}}</span></li>{{/hits}}</ul>{{/hasHits}}
        {{^hits}}<p class="notice">{{t.noHits}}</p>{{/hits}}
        """#

    /// The stylesheet: system fonts, no images; readable on a phone; states in colour *and* words.
    static let css = #"""
        :root{--ok:#1b6e20;--okbg:#e6f4e7;--warn:#8a5a00;--warnbg:#fff4d6;--bad:#b00020;--badbg:#fde7ea;--silent:#4a4a8a;--silentbg:#ecebfa;--unk:#555;--unkbg:#eee;--line:#ccc}
        *{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;background:#fafafa}
        header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.5rem 1rem;background:#0d3b66;color:#fff}
        header a{color:#fff}.brand{font-weight:700;text-decoration:none;margin-right:1rem}
        nav a{margin-right:.75rem}nav a[aria-current]{font-weight:700;text-decoration:underline 3px}
        form.search{display:flex;gap:.25rem}nav.lang a{font-size:.85rem;margin-right:.5rem}nav.lang a[aria-current]{font-weight:700;text-decoration:none}form.who{margin-left:auto;display:flex;gap:.5rem;align-items:center;font-size:.9rem}
        main{padding:1rem;max-width:80rem;margin:auto}h1{margin:.2rem 0 .5rem;font-size:1.5rem}
        .vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}.skip{position:absolute;left:-99rem}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000;padding:.5rem}
        a:focus,button:focus,summary:focus,input:focus,select:focus{outline:3px solid #f4a261;outline-offset:2px}
        .updated{color:#555;font-size:.85rem;margin:.2rem 0 1rem}
        .tag{display:inline-block;padding:0 .4rem;border-radius:.25rem;font-weight:600;font-size:.85rem;border:1px solid}
        .tag.big{font-size:1.1rem;padding:.1rem .6rem}
        .ok .tag,.tag.ok{color:var(--ok);background:var(--okbg)}.tag.warn{color:var(--warn);background:var(--warnbg)}
        .tag.bad{color:var(--bad);background:var(--badbg)}.tag.silent{color:var(--silent);background:var(--silentbg)}.tag.unknown{color:var(--unk);background:var(--unkbg)}
        .num{text-align:right;font-variant-numeric:tabular-nums}.num.bad{color:var(--bad);font-weight:700}.num.warn{color:var(--warn);font-weight:700}.num.silent{color:var(--silent);font-weight:700}
        .tiles{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0;margin:0 0 1rem}
        .tile{padding:.5rem .75rem;border-left:.4rem solid var(--line);background:#fff;min-width:9rem}.tile .n{font-size:1.5rem;font-weight:700}
        .tile.bad{border-color:var(--bad)}.tile.warn{border-color:var(--warn)}.tile.ok{border-color:var(--ok)}.tile.silent{border-color:var(--silent)}
        .row{display:grid;grid-template-columns:minmax(9rem,2fr) 8rem repeat(7,minmax(3.5rem,1fr));gap:.25rem;align-items:center;padding:.3rem .5rem}
        .row.head{font-size:.8rem;color:#444;border-bottom:2px solid var(--line)}
        details{background:#fff;border-left:.4rem solid var(--line);margin:.25rem 0}details.bad{border-color:var(--bad)}details.warn{border-color:var(--warn)}details.ok{border-color:var(--ok)}details.silent{border-color:var(--silent)}
        summary{cursor:pointer;list-style-position:inside}summary .name{font-weight:600}
        .children{padding:0 0 .5rem 1.5rem}.reason{grid-column:1/-1;color:var(--bad);font-size:.9rem}
        table.sub{width:100%;border-collapse:collapse}table.sub tr{display:grid;grid-template-columns:minmax(9rem,2fr) 8rem repeat(7,minmax(3.5rem,1fr));gap:.25rem;align-items:center;padding:.25rem .5rem;border-top:1px solid #eee}
        table.sub th{text-align:left;font-weight:400}
        .open{margin:.25rem 0}.crumbs{margin-bottom:.75rem}
        table.list{border-collapse:collapse;width:100%;background:#fff}table.list th,table.list td{padding:.35rem .5rem;border-bottom:1px solid #e2e2e2;text-align:left;vertical-align:top}
        table.list thead th{border-bottom:2px solid var(--line);font-size:.85rem}table.list tr.bad td:first-child{border-left:.3rem solid var(--bad)}
        table.list tr.warn td:first-child{border-left:.3rem solid var(--warn)}table.list tr.silent td:first-child{border-left:.3rem solid var(--silent)}
        .filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin-bottom:.75rem}
        .notice{padding:.5rem .75rem;background:#fff;border-left:.4rem solid var(--line)}.notice.bad{border-color:var(--bad)}.notice.ok{border-color:var(--ok)}.notice.warn{border-color:var(--warn)}
        .facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.5rem}.facts div{background:#fff;padding:.4rem .6rem}.facts dt{font-size:.8rem;color:#555}.facts dd{margin:0;font-weight:600}
        dd.bad{color:var(--bad)}dd.warn{color:var(--warn)}.reasons li{color:var(--bad);font-weight:600}
        .chart svg{width:100%;height:auto;max-width:56rem}.chart figcaption{font-size:.9rem}
        .timeline{list-style:none;padding:0}.timeline li{padding:.2rem 0;border-bottom:1px solid #eee}.timeline li.bad{color:var(--bad)}.timeline time{font-variant-numeric:tabular-nums;color:#555;margin-right:.5rem}
        form.login{display:grid;gap:.4rem;max-width:22rem}button{padding:.3rem .8rem;font:inherit}input,select{font:inherit;padding:.25rem}
        @media (max-width:48rem){table.list thead{position:absolute;left:-99rem}table.list tr{display:block;border-bottom:1px solid var(--line);padding:.3rem 0}
        table.list td{display:block;border:0;padding:.1rem .5rem}table.list tr.bad td:first-child,table.list tr.warn td:first-child,table.list tr.silent td:first-child{border-left:0}
        table.list tr.bad{border-left:.3rem solid var(--bad)}table.list tr.warn{border-left:.3rem solid var(--warn)}table.list tr.silent{border-left:.3rem solid var(--silent)}}
        @media (max-width:48rem){.row,table.sub tr{grid-template-columns:1fr 7rem repeat(3,3rem)}.row>.num:nth-of-type(n+4),table.sub td.num:nth-of-type(n+5){display:none}form.who{margin-left:0}}
        """#

    /// The page's only script (served from the registry, so the CSP allows no inline script): it
    /// asks `/live` every 2 seconds whether a report arrived, and if so fetches the same page
    /// again and swaps its <main>, so an open page is current within 5 s with no reload.
    static let liveJS = #"""
        (function () {
          "use strict";
          var stamp = document.getElementById("updated");
          var state = document.getElementById("live-state");
          if (!stamp) { return; }
          var version = stamp.getAttribute("data-version");
          var busy = false, failures = 0;
          function refresh() {
            return fetch(location.href, { credentials: "same-origin", headers: { "X-Ektp-Live": "1" } }).then(function (r) {
              if (!r.ok || r.redirected) { throw new Error("page " + r.status); }
              return r.text();
            }).then(function (html) {
              var doc = new DOMParser().parseFromString(html, "text/html");
              var next = doc.getElementById("main");
              var main = document.getElementById("main");
              if (!next || !main) { return; }
              var open = {};
              main.querySelectorAll("details[open] summary .name").forEach(function (n) { open[n.textContent] = true; });
              main.innerHTML = next.innerHTML;
              main.querySelectorAll("details summary .name").forEach(function (n) { if (open[n.textContent]) { n.closest("details").open = true; } });
              stamp = document.getElementById("updated");
              state = document.getElementById("live-state");
            });
          }
          function tick() {
            if (busy) { return; }
            busy = true;
            fetch("/live", { credentials: "same-origin", cache: "no-store" }).then(function (r) {
              if (!r.ok) { throw new Error("live " + r.status); }
              return r.json();
            }).then(function (j) {
              failures = 0;
              if (String(j.version) !== String(version)) {
                version = String(j.version);
                return refresh();
              }
              if (stamp) { stamp.textContent = j.updated; }
            }).catch(function () {
              failures += 1;
              if (failures >= 3 && state) { state.textContent = state.getAttribute("data-off") || "not updating: reload the page"; }
            }).then(function () { busy = false; });
          }
          setInterval(tick, 2000);
        })();
        """#
}
