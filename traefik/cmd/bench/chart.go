package main

import (
	"fmt"
	"os"
	"strings"
)

// writeChart draws each router's throughput, relative to the no-middleware router, as an SVG bar
// chart beside docs/benchmarks.md.
func writeChart(path string, results map[string][]loadResult) error {
	plain := medianOf(results["plain.localhost"], func(r loadResult) float64 { return r.rps })
	const width, barHeight, gap, left, top = 760, 34, 14, 330, 50
	height := top + len(routers)*(barHeight+gap) + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="13">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="20" y="28" font-size="16" font-weight="bold">Throughput through the real Traefik, relative to no middleware (make bench)</text>`+"\n")
	scale := float64(width-left-90) / 1.0
	for i, r := range routers {
		rps := medianOf(results[r.host], func(x loadResult) float64 { return x.rps })
		ratio := rps / plain
		y := top + i*(barHeight+gap)
		color := "#2f6fdf"
		if strings.HasPrefix(r.host, "plain") || strings.HasPrefix(r.host, "pass2") {
			color = "#9aa5b1"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-10, y+barHeight/2+5, escape(r.label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="%s"/>`+"\n", left, y, ratio*scale, barHeight, color)
		fmt.Fprintf(&b, `<text x="%.0f" y="%d">%.2f (%.0f req/s)</text>`+"\n", float64(left)+ratio*scale+6, y+barHeight/2+5, ratio, rps)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#d33" stroke-dasharray="4 3"/>`+"\n", left+int(0.7*scale), top-8, left+int(0.7*scale), height-30)
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#d33">0.70 target</text>`+"\n", left+int(0.7*scale)+4, height-14)
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
