package errortrack_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/slipway-dev/slipway/internal/errortrack"
)

type paymentError struct{ order int }

func (e *paymentError) Error() string { return fmt.Sprintf("payment for order %d declined", e.order) }

type stockError struct{}

func (stockError) Error() string { return "out of stock" }

func pay(order int) error { return &paymentError{order: order} }

// The real sentry-go SDK, given only the DSN, release and environment,
// reports to the tracker: exceptions group by type and in-app stack (not
// by line, not by the value's numbers), messages group after their
// numbers and ids are normalised, and every issue carries the release
// and environment.
func TestRealSentryGoSDK(t *testing.T) {
	r := newRig(t, errortrack.Options{}, true)
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn: r.dsn.String(), Release: "shop@3", Environment: "production",
	})
	if err != nil {
		t.Fatal(err)
	}
	hub := sentry.NewHub(client, sentry.NewScope())
	for i := range 3 {
		hub.CaptureException(pay(1000 + i)) // same type, same stack, other values
	}
	hub.CaptureException(pay(7)) // another line, same function
	hub.CaptureException(stockError{})
	hub.CaptureMessage("user 42 hit quota at 2026-11-21T10:00:00Z")
	hub.CaptureMessage("user 97 hit quota at 2026-11-22T11:30:00Z")
	func() {
		defer func() {
			if v := recover(); v != nil {
				hub.Recover(v)
			}
		}()
		var m map[string]*int
		_ = *m["x"]
	}()
	if !hub.Flush(10 * time.Second) {
		t.Fatal("the SDK did not deliver its events")
	}
	issues := r.issues()
	var titles []string
	events := map[string]int64{}
	for _, is := range issues {
		titles = append(titles, is.Title)
		if is.FirstRelease != "shop@3" || is.Env != "production" {
			t.Errorf("issue %q: release %q env %q", is.Title, is.FirstRelease, is.Env)
		}
		switch {
		case strings.Contains(is.Title, "paymentError"):
			events["payment"] += is.Events
		case strings.Contains(is.Title, "stockError"):
			events["stock"] += is.Events
		case strings.Contains(is.Title, "quota"):
			events["quota"] += is.Events
		default:
			events["other"] += is.Events
		}
	}
	sort.Strings(titles)
	if len(issues) != 4 || events["payment"] != 4 || events["stock"] != 1 || events["quota"] != 2 || events["other"] != 1 {
		t.Fatalf("want 4 issues (payment x4, stock, quota x2, the panic), got %d: %q %v", len(issues), titles, events)
	}
}
