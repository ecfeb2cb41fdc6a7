"""The morning report's style sheet, inline in the page (nothing is loaded from anywhere).

Large plain text, high contrast, a cramp table that turns into one card per cramp on a phone
(<= 700 px), and print rules that keep the colours and the plots on paper.
"""

REPORT_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #ffffff; color: #111111; font-size: 20px; line-height: 1.5;
  font-family: "DejaVu Sans", Verdana, Arial, Helvetica, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
.headline { font-size: 1.45em; font-weight: bold; margin: 0.3em 0 0.6em; }
.headline small { display: block; font-size: 0.62em; font-weight: normal; color: #333333; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; max-width: 100%; }
.narrow { display: none; }
.meta { color: #333333; font-size: 0.9em; }
h2 small { font-size: 0.6em; font-weight: normal; color: #333333; }
h1 { font-size: 2.1em; margin: 0.2em 0; }
h2 { font-size: 1.55em; margin: 1.6em 0 0.5em; padding-bottom: 0.15em;
  border-bottom: 3px solid #08306b; }
h3 { font-size: 1.25em; margin: 1.3em 0 0.4em; }
p { margin: 0.5em 0; max-width: 60em; }
.lead { font-size: 1.25em; }
.notice { background: #fff6dc; border-left: 8px solid #e6a100; padding: 12px 16px; }
dl.summary { display: grid;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 300px), 1fr));
  gap: 12px; margin: 0.5em 0; }
dl.summary div { border: 2px solid #c8c8c8; border-radius: 8px; padding: 10px 14px; }
dl.summary dt { font-size: 0.95em; color: #333333; }
dl.summary dd { margin: 0; font-size: 1.35em; font-weight: bold; }
dl.summary dd small { font-size: 0.7em; font-weight: normal; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; }
th, td { border: 1px solid #b0b0b0; padding: 8px 10px; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
td.num { text-align: right; }
ul.flags { padding-left: 0; list-style: none; }
ul.flags li { border-left: 8px solid #e6a100; background: #fff6dc; padding: 10px 14px;
  margin: 8px 0; }
ul.flags li.urgent { border-left-color: #b00020; background: #fde8ea; }
ul.flags li { font-size: 1.1em; }
ul.flags .badge { text-transform: uppercase; letter-spacing: 0.03em; margin-right: 0.4em; }
ul.flags li.urgent .badge { color: #b00020; }
ul.findings { padding-left: 0; list-style: none; }
ul.findings li { border-left: 6px solid #08306b; padding: 6px 12px; margin: 6px 0; }
ul.findings li.unsupported, ul.findings li.weak { border-left-color: #9a9a9a; }
ul.findings li.association { border-left-color: #2b7a3d; }
ul.findings li.advice { border-left-color: #4a7ab0; }
ul.findings .advice { display: block; font-style: italic; }
figure { margin: 1em 0; }
figcaption, .caption { font-size: 0.95em; color: #222222; }
td.time { white-space: nowrap; }
svg.plot { display: block; width: 100%; height: auto; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 22px; font-size: 0.9em; margin: 6px 0; }
.swatch { display: inline-block; width: 1.1em; height: 1.1em; vertical-align: -0.15em;
  margin-right: 6px; border: 1px solid #777777; }
.hatch { background: repeating-linear-gradient(45deg, #555555 0 3px, #ffffff 3px 8px); }
footer { margin-top: 3em; font-size: 0.85em; color: #333333; border-top: 2px solid #c8c8c8; }
footer p { margin: 0.4em 0; }
@media (max-width: 700px) {
  body { font-size: 18px; }
  main { padding: 12px 12px 32px; }
  h1 { font-size: 1.6em; }
  h2 { font-size: 1.3em; }
  .headline { font-size: 1.2em; }
  ul.flags li { font-size: 1em; }
  .wide { display: none; }
  .narrow { display: block; }
  dl.summary { grid-template-columns: 1fr 1fr; gap: 8px; }
  dl.summary div { padding: 6px 10px; }
  dl.summary dd { font-size: 1.15em; }
  dl.summary dd small { display: block; }
  th, td { padding: 6px 6px; }
  table { font-size: 0.9em; }
  table.episodes thead { display: none; }
  table.episodes, table.episodes tbody, table.episodes tr, table.episodes td {
    display: block; width: 100%; }
  table.episodes tr { border: 2px solid #b0b0b0; border-radius: 8px; margin: 0 0 10px;
    padding: 4px 0; }
  table.episodes td { border: 0; text-align: left; white-space: normal; padding: 2px 10px; }
  table.episodes td::before { content: attr(data-head) ": "; font-weight: bold; }
}
@media print {
  body { font-size: 12pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  h3 { break-after: avoid; }
  figure, dl.summary, tr, ul.flags li { break-inside: avoid; }
  section.night { break-before: page; }
  .wide { display: block; }
  .narrow { display: none; }
  ul.flags li, .notice { border-left-width: 4pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""
