package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestKindsAreDistinctFingerprints(t *testing.T) {
	kinds := makeKinds(50, 1)
	seen := map[string]int{}
	for i, k := range kinds {
		if n := len(k.frames); n < 15 || n > 30 {
			t.Errorf("kind %d has %d frames, want 15 to 30", i, n)
		}
		// What the tracker groups by: the type and the in-app frames'
		// module and function (never line numbers).
		fp := []string{k.typ}
		app := 0
		for _, f := range k.frames {
			if f.InApp {
				fp = append(fp, f.Module+"."+f.Function)
				app++
			}
		}
		if app == 0 || app == len(k.frames) {
			t.Errorf("kind %d: %d of %d frames in app, want a mix", i, app, len(k.frames))
		}
		key := strings.Join(fp, "|")
		if j, ok := seen[key]; ok {
			t.Errorf("kinds %d and %d have the same fingerprint", j, i)
		}
		seen[key] = i
	}
	again := makeKinds(50, 1)
	for i := range kinds {
		if kinds[i].frames[len(kinds[i].frames)-1] != again[i].frames[len(again[i].frames)-1] {
			t.Fatalf("kind %d differs between two calls with the same seed", i)
		}
	}
}

func TestEventsLookReal(t *testing.T) {
	kinds := makeKinds(50, 1)
	c := makeCorpus(kinds, 2000, 1, time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	perKind := make([]int, len(kinds))
	for i, raw := range c.events {
		if len(raw) < minEventSize || len(raw) > maxEventSize {
			t.Errorf("event %d is %d bytes, want %d to %d", i, len(raw), minEventSize, maxEventSize)
		}
		var ev struct {
			EventID     string            `json:"event_id"`
			Release     string            `json:"release"`
			Environment string            `json:"environment"`
			Tags        map[string]string `json:"tags"`
			Contexts    map[string]any    `json:"contexts"`
			Request     struct{ URL string }
			Breadcrumbs []any `json:"breadcrumbs"`
			Exception   []struct {
				Type, Value string
				Stacktrace  *struct{ Frames []frame }
			} `json:"exception"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		top := ev.Exception[len(ev.Exception)-1]
		if len(ev.EventID) != 32 || ev.Release == "" || ev.Environment != "staging" || len(ev.Tags) < 3 ||
			len(ev.Contexts) < 3 || ev.Request.URL == "" || ev.Breadcrumbs == nil || top.Stacktrace == nil ||
			len(top.Stacktrace.Frames) != len(kinds[c.kinds[i]].frames) {
			t.Fatalf("event %d lacks a part: %s", i, raw)
		}
		perKind[c.kinds[i]]++
	}
	for k, n := range perKind {
		if n == 0 {
			t.Errorf("kind %d has no event", k)
		}
	}
	if perKind[0] < 10*perKind[49] {
		t.Errorf("distribution not skewed: kind 0 has %d events, kind 49 %d", perKind[0], perKind[49])
	}
	// Values differ in their numbers only.
	var v1, v2 string
	for i, k := range c.kinds {
		if k != 0 {
			continue
		}
		var ev struct{ Exception []struct{ Value string } }
		_ = json.Unmarshal(c.events[i], &ev)
		if v1 == "" {
			v1 = ev.Exception[0].Value
		} else if ev.Exception[0].Value != v1 {
			v2 = ev.Exception[0].Value
			break
		}
	}
	if v2 == "" {
		t.Errorf("every event of kind 0 has the value %q", v1)
	}
}

func TestRequests(t *testing.T) {
	kinds := makeKinds(5, 1)
	c := makeCorpus(kinds, 20, 1, time.Now())
	p, err := parseDSN("http://0123456789abcdef0123456789abcdef@127.0.0.1:7070/4")
	if err != nil {
		t.Fatal(err)
	}
	for _, gz := range []bool{false, true} {
		reqs, err := c.requests(p, gz)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range reqs {
			buf := append([]byte(nil), r.raw...)
			r.stamp(buf, [8]byte{0xab, 0xcd}, uint64(i))
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(buf)))
			if err != nil {
				t.Fatal(err)
			}
			if req.URL.Path != "/api/4/envelope/" || !strings.Contains(req.Header.Get("X-Sentry-Auth"), "sentry_key=0123456789abcdef0123456789abcdef") ||
				req.Header.Get("Content-Type") != "application/x-sentry-envelope" {
				t.Fatalf("request %d: %s %v", i, req.URL, req.Header)
			}
			var body io.Reader = req.Body
			if gz {
				if req.Header.Get("Content-Encoding") != "gzip" {
					t.Fatal("no Content-Encoding: gzip")
				}
				if body, err = gzip.NewReader(req.Body); err != nil {
					t.Fatal(err)
				}
			}
			env, err := io.ReadAll(body)
			if err != nil || int64(r.bodyLen) != req.ContentLength {
				t.Fatalf("request %d: body %d bytes, Content-Length %d: %v", i, r.bodyLen, req.ContentLength, err)
			}
			lines := bytes.SplitN(env, []byte("\n"), 3)
			var hdr struct {
				EventID string `json:"event_id"`
				DSN     string `json:"dsn"`
			}
			var item struct{ Type string }
			var ev struct {
				EventID string `json:"event_id"`
			}
			_ = json.Unmarshal(lines[0], &hdr)
			_ = json.Unmarshal(lines[1], &item)
			if err := json.Unmarshal(lines[2], &ev); err != nil {
				t.Fatalf("request %d: event: %v", i, err)
			}
			want := fmt.Sprintf("abcd000000000000%016x", i)
			if gz {
				want = hdr.EventID // compressed: sent as built
			}
			if hdr.DSN != p.dsn || item.Type != "event" || hdr.EventID != want || ev.EventID != want {
				t.Fatalf("request %d: header %+v, item %q, event id %q, want id %q", i, hdr, item.Type, ev.EventID, want)
			}
		}
	}
}

func TestParseDSN(t *testing.T) {
	p, err := parseDSN("https://k3y@errors.example.com/prefix/17")
	if err != nil || p.key != "k3y" || p.id != "17" || p.addr != "errors.example.com" {
		t.Fatalf("%+v %v", p, err)
	}
	for _, bad := range []string{"", "http://127.0.0.1:7070/4", "http://k@127.0.0.1:7070/"} {
		if _, err := parseDSN(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
