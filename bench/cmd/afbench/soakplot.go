package main

import (
	"fmt"
	"os"
	"strings"
)

// writeSoakPlot draws the soak's samples as an SVG: the RSS of the intake
// and the worker (MiB, left scale) and their goroutines (right scale)
// against the seconds of the run, beside the results file.
func writeSoakPlot(jsonPath string, samples []SoakSample) error {
	if len(samples) < 2 {
		return nil
	}
	const w, h, pad = 720.0, 300.0, 50.0
	end := samples[len(samples)-1].Seconds
	var maxMiB, maxG float64 = 1, 1
	for _, x := range samples {
		maxMiB = max(maxMiB, float64(x.IntakeRSS)/(1<<20), float64(x.WorkerRSS)/(1<<20))
		maxG = max(maxG, x.IntakeGoroutines, x.WorkerGoroutines)
	}
	maxMiB, maxG = maxMiB*1.2, maxG*1.2
	line := func(color, dash string, y func(SoakSample) float64, top float64) string {
		var pts []string
		for _, x := range samples {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", pad+(w-2*pad)*x.Seconds/end, h-pad-(h-2*pad)*y(x)/top))
		}
		return fmt.Sprintf(`<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="%s" points="%s"/>`, color, dash, strings.Join(pts, " "))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`, pad, h-pad, w-pad, h-pad)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`, pad, pad, pad, h-pad)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">seconds (0 to %.0f)</text>`, w/2, h-15, end)
	fmt.Fprintf(&b, `<text x="5" y="%.0f">%.0f MiB</text><text x="5" y="%.0f">0</text>`, pad, maxMiB, h-pad)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%.0f goroutines</text>`, w-5, pad-8, maxG)
	b.WriteString(line("#1f77b4", "", func(x SoakSample) float64 { return float64(x.IntakeRSS) / (1 << 20) }, maxMiB))
	b.WriteString(line("#d62728", "", func(x SoakSample) float64 { return float64(x.WorkerRSS) / (1 << 20) }, maxMiB))
	b.WriteString(line("#1f77b4", "4 3", func(x SoakSample) float64 { return x.IntakeGoroutines }, maxG))
	b.WriteString(line("#d62728", "4 3", func(x SoakSample) float64 { return x.WorkerGoroutines }, maxG))
	fmt.Fprintf(&b, `<text x="%.0f" y="20" fill="#1f77b4">intake RSS (solid), goroutines (dashed)</text>`, pad)
	fmt.Fprintf(&b, `<text x="%.0f" y="36" fill="#d62728">worker RSS (solid), goroutines (dashed); killed and restarted at 40 %%</text>`, pad)
	b.WriteString(`</svg>` + "\n")
	path := strings.TrimSuffix(jsonPath, ".json") + ".svg"
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
