package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"
)

// project is where the load sends events: a DSN's parts.
type project struct {
	dsn  string
	addr string // host:port
	key  string // the DSN's public key
	id   string // the DSN's project id
}

// parseDSN splits a DSN ({scheme}://{key}@{host}/{project}).
func parseDSN(dsn string) (project, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil || u.Host == "" {
		return project{}, fmt.Errorf("DSN %q is not {scheme}://{key}@{host}/{project}", dsn)
	}
	id := u.Path[strings.LastIndexByte(u.Path, '/')+1:]
	if id == "" || u.User.Username() == "" {
		return project{}, fmt.Errorf("DSN %q has no key or project id", dsn)
	}
	return project{dsn: dsn, addr: u.Host, key: u.User.Username(), id: id}, nil
}

// request is one envelope POST ready to send: the whole HTTP/1.1 request
// and, for uncompressed bodies, the two places its event id appears (the
// envelope header and the event), rewritten before each send so that
// every event has an id of its own.
type request struct {
	raw      []byte
	idAt     []int // offsets of the 32 hex digits; none when compressed
	eventLen int   // bytes of the event's JSON
	bodyLen  int   // bytes of the body as sent
}

// corpus is a pool of event JSONs, one per kind first, then drawn with
// the kinds' skewed weights. It is built once and sent to every server.
type corpus struct {
	events   [][]byte
	releases []string
	kinds    []int // kind of each event
}

// makeCorpus draws n events (n ≥ len(kinds)) with seed.
func makeCorpus(kinds []kind, n int, seed uint64, now time.Time) corpus {
	rng := rand.New(rand.NewPCG(seed, 1<<32))
	cum := zipf(len(kinds), 1.1)
	c := corpus{}
	for i := range max(n, len(kinds)) {
		k := i
		if i >= len(kinds) {
			k = pick(cum, rng.Float64())
		}
		ev, rel := kinds[k].event(rng, randomID(rng), now.Add(time.Duration(i)*time.Millisecond))
		c.events = append(c.events, ev)
		c.releases = append(c.releases, rel)
		c.kinds = append(c.kinds, k)
	}
	return c
}

// requests turns the corpus into envelope POSTs for p, gzip-compressed
// (at the default level, as SDKs do) or not.
func (c corpus) requests(p project, gzipped bool) ([]request, error) {
	out := make([]request, 0, len(c.events))
	for i, ev := range c.events {
		var id struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(ev, &id); err != nil || len(id.EventID) != 32 {
			return nil, fmt.Errorf("corpus event %d has no event_id", i)
		}
		hdr, err := json.Marshal(map[string]any{
			"event_id": id.EventID,
			"sent_at":  time.Now().UTC().Format(time.RFC3339Nano),
			"dsn":      p.dsn,
			"sdk":      map[string]string{"name": "sentry.go", "version": "0.50.0"},
			"trace":    map[string]string{"environment": "staging", "public_key": p.key, "release": c.releases[i], "trace_id": id.EventID},
		})
		if err != nil {
			return nil, err
		}
		var body bytes.Buffer
		body.Write(hdr)
		fmt.Fprintf(&body, "\n{\"type\":\"event\",\"length\":%d}\n", len(ev))
		body.Write(ev)
		body.WriteByte('\n')
		if gzipped {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			if _, err := zw.Write(body.Bytes()); err != nil {
				return nil, err
			}
			if err := zw.Close(); err != nil {
				return nil, err
			}
			body = z
		}
		var raw bytes.Buffer
		fmt.Fprintf(&raw, "POST /api/%s/envelope/ HTTP/1.1\r\nHost: %s\r\nUser-Agent: sentry-go/0.50.0\r\n"+
			"Content-Type: application/x-sentry-envelope\r\n"+
			"X-Sentry-Auth: Sentry sentry_version=7, sentry_client=sentry.go/0.50.0, sentry_key=%s\r\n", p.id, p.addr, p.key)
		if gzipped {
			raw.WriteString("Content-Encoding: gzip\r\n")
		}
		fmt.Fprintf(&raw, "Content-Length: %d\r\n\r\n", body.Len())
		raw.Write(body.Bytes())
		r := request{raw: raw.Bytes(), eventLen: len(ev), bodyLen: body.Len()}
		if !gzipped {
			// The id is in the envelope header and in the event.
			needle := []byte(`"event_id":"` + id.EventID)
			for from := 0; ; {
				j := bytes.Index(r.raw[from:], needle)
				if j < 0 {
					break
				}
				r.idAt = append(r.idAt, from+j+len(`"event_id":"`))
				from += j + len(needle)
			}
			if len(r.idAt) != 2 {
				return nil, fmt.Errorf("corpus event %d: its event_id is in its envelope %d times, not twice", i, len(r.idAt))
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// stamp writes the event id made of prefix and n at r's id places in buf
// (a copy of r.raw).
func (r request) stamp(buf []byte, prefix [8]byte, n uint64) {
	var id [16]byte
	copy(id[:8], prefix[:])
	binary.BigEndian.PutUint64(id[8:], n)
	for _, at := range r.idAt {
		hex.Encode(buf[at:at+32], id[:])
	}
}
