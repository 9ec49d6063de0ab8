/** The console's stylesheet: system fonts, high contrast, visible focus, light and dark. */
export const consoleStyle = `
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1a1a1a; --muted: #555555; --line: #d0d0d0; --panel: #f5f6f7;
  --accent: #0b57d0; --ok: #146c2e; --bad: #b3261e; --warn: #7a5900; --chart: #0b57d0; --chart-fill: rgba(11, 87, 208, 0.12);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 16px; line-height: 1.45;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #141414; --fg: #ececec; --muted: #b0b0b0; --line: #3a3a3a; --panel: #1e1f21;
    --accent: #8ab4f8; --ok: #7dd99a; --bad: #f2b8b5; --warn: #f0c75e; --chart: #8ab4f8; --chart-fill: rgba(138, 180, 248, 0.15);
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; top: 0; background: var(--bg); padding: 0.5rem 1rem; z-index: 10; }
.skip:focus { left: 0.5rem; top: 0.5rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1.5rem; padding: 0.6rem 1.25rem; border-bottom: 1px solid var(--line); background: var(--panel); }
.brand { margin: 0; font-weight: 700; }
.brand span { font-weight: 400; color: var(--muted); }
nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
nav a { text-decoration: none; padding: 0.25rem 0.1rem; border-bottom: 2px solid transparent; }
nav a[aria-current="page"] { border-bottom-color: var(--accent); font-weight: 600; }
header .who { margin-left: auto; color: var(--muted); font-size: 0.9rem; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.6rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.75rem 0 0.6rem; }
h1:focus { outline: none; }
p.lead { color: var(--muted); margin-top: -0.5rem; }
button, .button { font: inherit; padding: 0.4rem 0.9rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: var(--bg); cursor: pointer; text-decoration: none; display: inline-block; }
button.secondary, .button.secondary { background: transparent; color: var(--accent); }
button.danger { background: transparent; color: var(--bad); border-color: var(--bad); }
button:disabled { opacity: 0.6; cursor: progress; }
.actions { display: flex; flex-wrap: wrap; gap: 0.6rem; align-items: center; margin: 0.75rem 0; }
form.stack { display: grid; gap: 0.9rem; max-width: 44rem; }
form.stack .field { display: grid; gap: 0.25rem; }
label { font-weight: 600; }
.hint { color: var(--muted); font-size: 0.88rem; font-weight: 400; }
input[type="text"], input[type="password"], input[type="number"], select, textarea {
  font: inherit; padding: 0.4rem 0.55rem; border: 1px solid var(--muted); border-radius: 6px; background: var(--bg); color: var(--fg); width: 100%;
}
textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.88rem; min-height: 4.5rem; }
fieldset { border: 1px solid var(--line); border-radius: 8px; padding: 0.75rem 1rem 1rem; display: grid; gap: 0.75rem; }
legend { font-weight: 700; padding: 0 0.3rem; }
.checks { display: flex; flex-wrap: wrap; gap: 0.4rem 1.2rem; }
.checks label { font-weight: 400; }
.error { color: var(--bad); white-space: pre-wrap; border-left: 4px solid var(--bad); padding: 0.4rem 0.75rem; background: var(--panel); margin: 0.5rem 0; }
.notice { border-left: 4px solid var(--ok); padding: 0.4rem 0.75rem; background: var(--panel); margin: 0.5rem 0; }
.login { max-width: 26rem; margin: 3rem auto; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.4rem; }
th, td { text-align: left; padding: 0.45rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 0.9rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr)); gap: 0.8rem; margin: 0 0 1rem; padding: 0; list-style: none; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 0.7rem 0.9rem; background: var(--panel); }
.card .label { color: var(--muted); font-size: 0.9rem; display: block; }
.card .value { font-size: 1.35rem; font-weight: 700; font-variant-numeric: tabular-nums; }
.ok { color: var(--ok); }
.bad { color: var(--bad); }
.warn { color: var(--warn); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(19rem, 1fr)); gap: 1rem; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 0.6rem 0.8rem; }
figure.chart figcaption { display: flex; justify-content: space-between; gap: 0.5rem; font-size: 0.92rem; }
figure.chart figcaption strong { font-variant-numeric: tabular-nums; }
figure.chart svg { display: block; width: 100%; height: 64px; margin-top: 0.3rem; }
figure.chart .range { color: var(--muted); font-size: 0.8rem; display: flex; justify-content: space-between; }
svg .line { fill: none; stroke: var(--chart); stroke-width: 2; vector-effect: non-scaling-stroke; }
svg .area { fill: var(--chart-fill); stroke: none; }
svg .empty { fill: var(--muted); font-size: 11px; }
ol.preview { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.7rem; }
ol.preview > li { border: 1px solid var(--line); border-radius: 8px; padding: 0.7rem 0.9rem; display: grid; grid-template-columns: 2.5rem 1fr; gap: 0.2rem 0.8rem; }
ol.preview .rank { font-weight: 700; font-size: 1.1rem; color: var(--muted); grid-row: span 4; }
ol.preview .text { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
ol.preview .meta { color: var(--muted); font-size: 0.85rem; overflow-wrap: anywhere; }
.chips { display: flex; flex-wrap: wrap; gap: 0.35rem; margin: 0.2rem 0; padding: 0; list-style: none; }
.chip { font-size: 0.82rem; border-radius: 999px; padding: 0.08rem 0.6rem; border: 1px solid var(--line); }
.chip.support { border-color: var(--ok); color: var(--ok); }
.chip.divisive { border-color: var(--warn); color: var(--warn); }
details summary { cursor: pointer; color: var(--accent); }
details table { font-size: 0.88rem; }
details pre { font-size: 0.8rem; overflow: auto; max-height: 14rem; background: var(--panel); padding: 0.5rem; border-radius: 6px; margin: 0; }
table.components > tbody > tr > th { width: 9rem; }
table.evidence { margin: 0; font-size: 0.82rem; }
table.evidence th, table.evidence td { padding: 0.2rem 0.4rem; }
table.evidence td { font-variant-numeric: tabular-nums; }
.actions select { width: auto; }
.loading { color: var(--muted); }
`;
