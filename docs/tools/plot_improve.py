#!/usr/bin/env python3
"""plot_improve.py — accuracy per self-improvement iteration, from a selfbt-improve report.

    python3 docs/tools/plot_improve.py OUTPUT_DIR/report.json docs/improve_chart.svg [--title T]

Draws greedy ("fast") and self-backtracking ("slow") accuracy on seen (val) and new (val_new)
targets for each iteration of report.json as an SVG line chart. Standard library only."""
import argparse
import json
import math
import sys
from xml.sax.saxutils import escape

SERIES = [  # (eval key, mode, label, colour, dashed)
    ("seen", "fast", "fast (greedy), seen targets", "#1f77b4", False),
    ("new", "fast", "fast (greedy), new targets", "#1f77b4", True),
    ("seen", "slow", "slow (search), seen targets", "#d62728", False),
    ("new", "slow", "slow (search), new targets", "#d62728", True),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report")
    ap.add_argument("svg")
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    with open(a.report) as f:
        rep = json.load(f)
    its = rep.get("iterations", [])
    if not its:
        sys.exit("plot_improve.py: %s has no iterations" % a.report)
    cfg = rep.get("config", {})
    xs = [e["iteration"] for e in its]
    lines = []
    for key, mode, label, colour, dashed in SERIES:
        pts = []
        for e in its:
            v = ((e.get("eval") or {}).get(key) or {}).get(mode)
            if isinstance(v, (int, float)) and math.isfinite(v):
                pts.append((e["iteration"], 100.0 * v))
        if pts:
            lines.append((label, colour, dashed, pts))
    vals = [y for _, _, _, p in lines for _, y in p]
    if not vals:
        sys.exit("plot_improve.py: no accuracies in %s" % a.report)
    lo = max(0.0, math.floor(min(vals) / 5.0) * 5.0 - 5.0)
    hi = min(100.0, math.ceil(max(vals) / 5.0) * 5.0 + 5.0)

    W, H = 720, 430
    L, R, T, B = 64, 250, 56, 56
    pw, ph = W - L - R, H - T - B
    xmax = max(xs) if max(xs) > 0 else 1

    def px(x):
        return L + pw * x / xmax

    def py(y):
        return T + ph * (1 - (y - lo) / (hi - lo))

    protocol = cfg.get("protocol", "?")
    search = cfg.get("search", {})
    title = a.title or "Self-improvement (%s): accuracy per iteration" % protocol
    sub = "search b=%s N=%s; verifier %s; %s" % (
        search.get("b", "?"), search.get("n", "?"), cfg.get("verifier", "?"),
        ", ".join("%s %s problems" % (k, v.get("problems")) for k, v in
                  (cfg.get("eval") or {}).items() if isinstance(v, dict)))
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">' % (W, H, W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (L, escape(title)),
         '<text x="%d" y="40" fill="#555">%s</text>' % (L, escape(sub))]
    step = 5 if hi - lo <= 40 else 10
    y = lo
    while y <= hi + 1e-9:
        o.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#ddd"/>' % (L, py(y), L + pw, py(y)))
        o.append('<text x="%g" y="%g" text-anchor="end" dy="4">%g%%</text>' % (L - 6, py(y), y))
        y += step
    for x in xs:
        o.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#eee"/>' % (px(x), T, px(x), T + ph))
        o.append('<text x="%g" y="%g" text-anchor="middle">%d</text>' % (px(x), T + ph + 18, x))
    o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>' % (L, T, pw, ph))
    o.append('<text x="%g" y="%d" text-anchor="middle">iteration (0 = starting model)</text>'
             % (L + pw / 2, H - 14))
    o.append('<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">accuracy</text>'
             % (T + ph / 2))
    for i, (label, colour, dashed, pts) in enumerate(lines):
        d = " ".join("%s%.1f,%.1f" % ("M" if j == 0 else "L", px(x), py(y))
                     for j, (x, y) in enumerate(pts))
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        o.append('<path d="%s" fill="none" stroke="%s" stroke-width="2"%s/>' % (d, colour, dash))
        for x, y in pts:
            o.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s, iteration %d: '
                     '%.1f%%</title></circle>' % (px(x), py(y), colour, escape(label), x, y))
        ly = T + 10 + 22 * i
        o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>'
                 % (L + pw + 16, ly, L + pw + 46, ly, colour, dash))
        o.append('<text x="%d" y="%d" dy="4">%s</text>' % (L + pw + 52, ly, escape(label)))
    kept = []
    for e in its:
        tr = e.get("train") or {}
        if tr.get("examples") is not None:
            kept.append("it %d: %d" % (e["iteration"], tr["examples"]))
    if kept:
        o.append('<text x="%d" y="%d" fill="#555">trained on (kept):</text>'
                 % (L + pw + 16, T + 10 + 22 * len(lines) + 10))
        for j, k in enumerate(kept):
            o.append('<text x="%d" y="%d" fill="#555">%s</text>'
                     % (L + pw + 16, T + 10 + 22 * len(lines) + 28 + 16 * j, escape(k)))
    o.append("</svg>")
    with open(a.svg, "w") as f:
        f.write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
