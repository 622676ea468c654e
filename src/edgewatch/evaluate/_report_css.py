"""The report's inline style sheet (no web fonts, no external resources)."""

CSS = """
:root {
  --fg: #1d2330; --muted: #667085; --line: #d9dee7; --bg: #f6f7f9; --card: #ffffff;
  --accent: #1f5fa8; --ok: #1a7f37; --bad: #c62828;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
header { background: #18202e; color: #fff; padding: 18px 28px 14px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header .sub { color: #b9c3d3; font-size: 13px; }
header nav { margin-top: 8px; font-size: 13px; }
header nav a { color: #9cc3ff; margin-right: 14px; text-decoration: none; }
header nav a:hover { text-decoration: underline; }
main { padding: 18px 28px 40px; max-width: 1600px; margin: 0 auto; }
section.panel {
  background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 18px 16px; margin-bottom: 18px;
}
h2 { font-size: 17px; margin: 0 0 10px; font-weight: 600; }
h3 { font-size: 14px; margin: 14px 0 6px; font-weight: 600; color: #344054; }
.muted { color: var(--muted); }
.ok { color: var(--ok); font-weight: 600; }
.bad { color: var(--bad); font-weight: 600; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 12px; }
.card {
  flex: 1 1 150px; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px;
  background: #fbfcfe;
}
.card-label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.card-value { font-size: 22px; font-weight: 600; }
.card-note { color: var(--muted); font-size: 12px; }
.tables { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
table { border-collapse: collapse; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 0 0 4px; color: #344054; }
table.kv th { text-align: left; font-weight: normal; color: var(--muted); padding: 3px 14px 3px 0;
  vertical-align: top; white-space: nowrap; }
table.kv td { padding: 3px 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
table.kv tr + tr th, table.kv tr + tr td { border-top: 1px solid #eef0f4; }
table.nested { margin: 0; }
table.grid { margin: 6px 0; }
table.grid th { text-align: left; background: #f1f3f7; padding: 4px 10px;
  border-bottom: 1px solid var(--line); }
table.grid td { padding: 3px 10px; border-bottom: 1px solid #eef0f4; font-variant-numeric: tabular-nums; }
table.compact td, table.compact th { padding: 2px 8px; font-size: 12px; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--accent); }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px;
  vertical-align: -1px; }
.facts { display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 8px; }
.fact { border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; background: #fbfcfe; }
.fact span { color: var(--muted); font-size: 12px; margin-right: 6px; }
.chip { display: inline-block; background: #eef2f8; border-radius: 10px; padding: 1px 8px; margin: 2px;
  font-size: 12px; }
.series-stats { color: var(--muted); font-size: 13px; margin: -4px 0 8px; }
.series-stats b { color: var(--fg); font-weight: 600; }
.legend { display: flex; flex-wrap: wrap; gap: 16px; font-size: 12.5px; margin: 4px 0 6px; }
.legend .item { display: inline-flex; align-items: center; gap: 6px; }
.legend .line { width: 22px; height: 0; border-top: 2px solid #1f77b4; }
.legend .line.thr { border-top: 2px dashed #e0620d; }
.legend .line.sus { border-top: 2px dotted #1d2330; }
.legend .box { width: 16px; height: 11px; border-radius: 2px; }
.legend .hatch {
  background: repeating-linear-gradient(135deg, rgba(214,39,40,.55) 0 2px, transparent 2px 5px);
  border: 1px solid rgba(214,39,40,.6); }
.legend .tri { width: 0; height: 0; border-left: 5px solid transparent; border-right: 5px solid transparent;
  border-top: 8px solid #111; }
.controls { font-size: 12.5px; color: var(--muted); display: flex; gap: 14px; align-items: center;
  margin-left: auto; }
.controls button { font: inherit; padding: 1px 8px; border: 1px solid var(--line); border-radius: 4px;
  background: #fff; cursor: pointer; }
.plot { position: relative; width: 100%; user-select: none; }
.plot canvas { display: block; width: 100%; }
.tooltip {
  position: absolute; pointer-events: none; display: none; z-index: 5; background: rgba(24,32,46,.94);
  color: #fff; font-size: 12px; padding: 6px 9px; border-radius: 5px; white-space: nowrap;
  line-height: 1.4; box-shadow: 0 2px 8px rgba(0,0,0,.25);
}
.crosshair { position: absolute; top: 0; bottom: 0; width: 1px; background: rgba(0,0,0,.35);
  pointer-events: none; display: none; }
.selection { position: absolute; top: 0; bottom: 0; background: rgba(31,95,168,.15);
  border: 1px solid rgba(31,95,168,.5); pointer-events: none; display: none; }
.hint { font-size: 12px; color: var(--muted); margin-top: 2px; }
.errors { background: #fdecea; color: var(--bad); padding: 8px 12px; border-radius: 6px; display: none; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 10px 0 30px; }
"""
