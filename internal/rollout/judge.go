package rollout

import (
	"net/http"
	"time"

	"github.com/slipway-dev/slipway/internal/analysis"
	"github.com/slipway-dev/slipway/internal/spec"
)

// DefaultJudge maps a canary's analysis settings from slipway.yaml to the
// built-in checks plus its webhooks and Prometheus queries, and adds
// extra checkers (the error tracker's).
func DefaultJudge(a spec.Analysis, extra ...analysis.Checker) Judge {
	cfg := analysis.Config{
		MinRequests:          a.MinRequests,
		MaxErrorRate:         orDefault(a.MaxErrorRate, 0.05),
		MaxErrorRateIncrease: orDefault(a.MaxErrorRateIncrease, 0.01),
	}
	for _, l := range a.Latency {
		cfg.Latency = append(cfg.Latency, analysis.LatencyRule{Percentile: l.Percentile, Max: l.Max.D(), MaxRatio: l.MaxRatio})
	}
	client := &http.Client{}
	j := analysis.Judge{Config: cfg}
	for _, w := range a.Webhooks {
		timeout := w.Timeout.D()
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		j.Checkers = append(j.Checkers, analysis.NewWebhook(w.URL, timeout, client))
	}
	for _, p := range a.Prometheus {
		j.Checkers = append(j.Checkers, analysis.NewPrometheus(p.URL, p.Query, p.Min, p.Max, client))
	}
	j.Checkers = append(j.Checkers, extra...)
	return j
}

func orDefault(v *float64, def float64) float64 {
	if v == nil {
		return def
	}
	return *v
}
