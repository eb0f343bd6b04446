package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// The events are shaped like sentry-go's (platform "go", exception and
// breadcrumbs as bare arrays, the contexts and modules it fills in), with
// what a web app adds: a request, tags, a user, breadcrumbs, extra.

// frame is one stack frame as sentry-go sends it.
type frame struct {
	Function string `json:"function"`
	Module   string `json:"module"`
	AbsPath  string `json:"abs_path"`
	Lineno   int    `json:"lineno"`
	InApp    bool   `json:"in_app"`
}

// kind is one fingerprint: an error type raised through one stack. Events
// of a kind differ only in what the tracker must not group by: the
// numbers in the message, line numbers, the request, tags, breadcrumbs.
type kind struct {
	typ    string  // exception type, e.g. "*pgconn.PgError"
	format string  // the value, with %d for numbers that vary per event
	cause  string  // a wrapped cause's value ("" for none)
	frames []frame // oldest first, as Sentry orders them
	route  string  // the request's route, e.g. "/api/orders/{id}"
	method string
}

// errorTypes are the exceptions kinds raise, with values whose numbers
// vary per event (every %d is a fresh number).
var errorTypes = []struct{ typ, format string }{
	{"*errors.errorString", "order %d not found"},
	{"*fmt.wrapError", "charge card for order %d: payment declined (code %d)"},
	{"*pgconn.PgError", `ERROR: duplicate key value violates unique constraint "orders_pkey" (SQLSTATE 23505): Key (id)=(%d) already exists`},
	{"*net.OpError", "dial tcp 10.0.%d.%d:6379: connect: connection refused"},
	{"*url.Error", `Post "https://api.payments.example/v1/charges/%d": context deadline exceeded (Client.Timeout exceeded after %dms)`},
	{"*json.SyntaxError", "invalid character '}' looking for beginning of object key string at offset %d"},
	{"*shop.ValidationError", "invalid field quantity: %d is over the limit of %d"},
	{"*shop.NotFoundError", "user %d not found in tenant %d"},
	{"runtime.boundsError", "runtime error: index out of range [%d] with length %d"},
	{"*strconv.NumError", `strconv.Atoi: parsing "%dx": invalid syntax`},
	{"*shop.RateLimitError", "rate limit exceeded for tenant %d, retry in %dms"},
	{"*errors.errorString", "context deadline exceeded after %dms waiting for %d rows"},
}

var (
	receivers = []string{"Handler", "Service", "Repository", "Client", "Worker", "Cache", "Validator", "Notifier"}
	verbs     = []string{"Create", "Update", "Get", "List", "Delete", "Charge", "Refund", "Sync", "Import", "Export", "Resolve", "Notify"}
	nouns     = []string{"Order", "User", "Cart", "Invoice", "Payment", "Shipment", "Product", "Session", "Report", "Coupon"}
	domains   = []string{"orders", "payments", "users", "catalog", "search", "cart", "shipping", "auth", "billing", "reports"}
)

// libraryFrames are frames of libraries an app's code calls into, not in
// the app.
var libraryFrames = []frame{
	{Function: "(*DB).QueryContext", Module: "database/sql", AbsPath: "/usr/local/go/src/database/sql/sql.go", Lineno: 1776},
	{Function: "(*DB).query", Module: "database/sql", AbsPath: "/usr/local/go/src/database/sql/sql.go", Lineno: 1797},
	{Function: "(*Conn).Query", Module: "github.com/jackc/pgx/v5", AbsPath: "/go/pkg/mod/github.com/jackc/pgx/v5@v5.7.1/conn.go", Lineno: 747},
	{Function: "(*PgConn).ExecParams", Module: "github.com/jackc/pgx/v5/pgconn", AbsPath: "/go/pkg/mod/github.com/jackc/pgx/v5@v5.7.1/pgconn/pgconn.go", Lineno: 1123},
	{Function: "(*Client).Do", Module: "net/http", AbsPath: "/usr/local/go/src/net/http/client.go", Lineno: 590},
	{Function: "(*Client).do", Module: "net/http", AbsPath: "/usr/local/go/src/net/http/client.go", Lineno: 727},
	{Function: "(*Transport).roundTrip", Module: "net/http", AbsPath: "/usr/local/go/src/net/http/transport.go", Lineno: 698},
	{Function: "(*baseClient).process", Module: "github.com/redis/go-redis/v9", AbsPath: "/go/pkg/mod/github.com/redis/go-redis/v9@v9.7.0/redis.go", Lineno: 391},
	{Function: "(*Decoder).Decode", Module: "encoding/json", AbsPath: "/usr/local/go/src/encoding/json/stream.go", Lineno: 63},
	{Function: "Unmarshal", Module: "encoding/json", AbsPath: "/usr/local/go/src/encoding/json/decode.go", Lineno: 116},
	{Function: "(*ClientConn).Invoke", Module: "google.golang.org/grpc", AbsPath: "/go/pkg/mod/google.golang.org/grpc@v1.68.0/call.go", Lineno: 35},
	{Function: "Atoi", Module: "strconv", AbsPath: "/usr/local/go/src/strconv/atoi.go", Lineno: 272},
}

// serverFrames are the frames below every request handler: the HTTP
// server, a router and its middleware, sentry-go's handler.
var serverFrames = []frame{
	{Function: "goexit", Module: "runtime", AbsPath: "/usr/local/go/src/runtime/asm_amd64.s", Lineno: 1700},
	{Function: "(*conn).serve", Module: "net/http", AbsPath: "/usr/local/go/src/net/http/server.go", Lineno: 2102},
	{Function: "serverHandler.ServeHTTP", Module: "net/http", AbsPath: "/usr/local/go/src/net/http/server.go", Lineno: 3210},
	{Function: "(*Mux).ServeHTTP", Module: "github.com/go-chi/chi/v5", AbsPath: "/go/pkg/mod/github.com/go-chi/chi/v5@v5.1.0/mux.go", Lineno: 90},
	{Function: "RequestID.func1", Module: "github.com/go-chi/chi/v5/middleware", AbsPath: "/go/pkg/mod/github.com/go-chi/chi/v5@v5.1.0/middleware/request_id.go", Lineno: 76},
	{Function: "HandlerFunc.ServeHTTP", Module: "net/http", AbsPath: "/usr/local/go/src/net/http/server.go", Lineno: 2220},
	{Function: "(*Handler).handle.func1", Module: "github.com/getsentry/sentry-go/http", AbsPath: "/go/pkg/mod/github.com/getsentry/sentry-go/http@v0.50.0/sentryhttp.go", Lineno: 119},
	{Function: "Recoverer.func1", Module: "github.com/go-chi/chi/v5/middleware", AbsPath: "/go/pkg/mod/github.com/go-chi/chi/v5@v5.1.0/middleware/recoverer.go", Lineno: 45},
	{Function: "(*Mux).routeHTTP", Module: "github.com/go-chi/chi/v5", AbsPath: "/go/pkg/mod/github.com/go-chi/chi/v5@v5.1.0/mux.go", Lineno: 459},
}

// makeKinds returns n distinct kinds, the same for the same seed: kind i
// raises errorTypes[i % len] through its own in-app frames (4 to 10 of
// them, among library frames) on top of 6 to 9 server frames; 15 to 30
// frames in all. Every fourth kind wraps a cause.
func makeKinds(n int, seed uint64) []kind {
	kinds := make([]kind, n)
	for i := range kinds {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		et := errorTypes[i%len(errorTypes)]
		domain := domains[i%len(domains)]
		mod := "example.com/shop/internal/" + domain
		total := 15 + rng.IntN(16)
		prefix := serverFrames[:6+rng.IntN(len(serverFrames)-5)]
		fs := append([]frame(nil), prefix...)
		appN := min(4+rng.IntN(7), total-len(prefix))
		body := total - len(prefix)
		// In-app frames at random places among the body's frames; the first
		// is the route's handler.
		inApp := make([]bool, body)
		inApp[0] = true
		for _, j := range rng.Perm(body - 1)[:appN-1] {
			inApp[j+1] = true
		}
		noun := nouns[rng.IntN(len(nouns))]
		for j := range body {
			if !inApp[j] {
				lf := libraryFrames[rng.IntN(len(libraryFrames))]
				fs = append(fs, lf)
				continue
			}
			recv := receivers[rng.IntN(len(receivers))]
			fn := fmt.Sprintf("(*%s).%s%s", recv, verbs[rng.IntN(len(verbs))], noun)
			if j == 0 {
				fn = fmt.Sprintf("(*Handler).handle%s%d", noun, i) // one handler per kind: the kinds never merge
			}
			file := strings.ToLower(recv) + ".go"
			fs = append(fs, frame{Function: fn, Module: mod, AbsPath: "/src/shop/internal/" + domain + "/" + file,
				Lineno: 20 + rng.IntN(400), InApp: true})
		}
		k := kind{typ: et.typ, format: et.format, frames: fs,
			route: fmt.Sprintf("/api/%s/%ss/{id}", domain, strings.ToLower(noun)), method: []string{"GET", "POST", "PUT", "DELETE"}[rng.IntN(4)]}
		if i%4 == 3 {
			k.cause = "read tcp 10.0.3.17:48212->10.0.4.2:5432: i/o timeout"
		}
		kinds[i] = k
	}
	return kinds
}

// zipf returns cumulative weights of n kinds, kind i weighing 1/(i+1)^s:
// a few kinds make most of the events, as in real apps.
func zipf(n int, s float64) []float64 {
	cum := make([]float64, n)
	sum := 0.0
	for i := range n {
		sum += 1 / math.Pow(float64(i+1), s)
		cum[i] = sum
	}
	for i := range cum {
		cum[i] /= sum
	}
	return cum
}

// pick returns the index of the first cumulative weight above u (0 ≤ u < 1).
func pick(cum []float64, u float64) int {
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}

// Event sizes the generator aims for, in bytes of JSON.
const (
	minEventSize = 2 << 10
	maxEventSize = 6 << 10
)

var releases = []struct {
	name   string
	weight float64 // cumulative
}{{"hello@1", 0.15}, {"hello@2", 0.45}, {"hello@3", 1}}

// event returns one event of kind k as sentry-go's JSON, with id as its
// event_id, sent at ts, its variable parts drawn from rng, and its
// release. The number of breadcrumbs (3 to 10, fewer for the deepest
// stacks, more for the shallowest) is chosen so that the event is 2 to
// 6 KiB.
func (k kind) event(rng *rand.Rand, id string, ts time.Time) (event []byte, release string) {
	num := func() int { return rng.IntN(100000) }
	args := make([]any, strings.Count(k.format, "%d"))
	for i := range args {
		args[i] = num()
	}
	value := fmt.Sprintf(k.format, args...)
	frames := make([]frame, len(k.frames))
	copy(frames, k.frames)
	for i := range frames {
		if frames[i].InApp && rng.IntN(4) == 0 {
			frames[i].Lineno += rng.IntN(3) // another line of the same function: must not split the issue
		}
	}
	exc := []map[string]any{}
	if k.cause != "" {
		exc = append(exc, map[string]any{"type": "*net.OpError", "value": k.cause})
		value += ": " + k.cause
	}
	exc = append(exc, map[string]any{"type": k.typ, "value": value, "stacktrace": map[string]any{"frames": frames}})
	u := rng.Float64()
	release = releases[len(releases)-1].name
	for _, r := range releases {
		if u < r.weight {
			release = r.name
			break
		}
	}
	id1 := num()
	path := strings.Replace(k.route, "{id}", fmt.Sprint(id1), 1)
	traceID := fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
	userID := rng.IntN(50000)
	ev := map[string]any{
		"event_id":    id,
		"timestamp":   ts.UTC().Format(time.RFC3339Nano),
		"level":       "error",
		"platform":    "go",
		"release":     release,
		"environment": "staging",
		"server_name": fmt.Sprintf("hello-%d", 1+rng.IntN(3)),
		"transaction": k.method + " " + k.route,
		"sdk": map[string]any{"name": "sentry.go", "version": "0.50.0",
			"integrations": []string{"Environment", "Modules"}, "packages": []map[string]string{{"name": "sentry-go", "version": "0.50.0"}}},
		"contexts": map[string]any{
			"device":  map[string]any{"arch": "amd64", "num_cpu": 2},
			"os":      map[string]any{"name": "linux"},
			"runtime": map[string]any{"go_maxprocs": 2, "go_numcgocalls": 1, "go_numroutines": 20 + rng.IntN(200), "name": "go", "version": "go1.26.8"},
			"trace":   map[string]any{"span_id": fmt.Sprintf("%016x", rng.Uint64()), "trace_id": traceID},
		},
		"modules": map[string]string{"example.com/shop": "(devel)", "github.com/getsentry/sentry-go": "v0.50.0",
			"github.com/go-chi/chi/v5": "v5.1.0", "github.com/jackc/pgx/v5": "v5.7.1"},
		"tags": map[string]string{"http.method": k.method, "http.route": k.route, "region": []string{"eu-west-1", "us-east-1"}[rng.IntN(2)],
			"customer_tier": []string{"free", "pro", "enterprise"}[rng.IntN(3)]},
		"user": map[string]any{"id": fmt.Sprint(userID), "ip_address": fmt.Sprintf("10.1.%d.%d", rng.IntN(256), rng.IntN(256))},
		"request": map[string]any{
			"url":          "https://shop.example.com" + path,
			"method":       k.method,
			"query_string": fmt.Sprintf("page=%d&limit=50", 1+rng.IntN(20)),
			"headers": map[string]string{"Accept": "application/json", "Content-Type": "application/json",
				"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0", "X-Request-Id": fmt.Sprintf("%016x", rng.Uint64())},
		},
		"extra":     map[string]any{"attempt": 1 + rng.IntN(3), "order_id": id1},
		"exception": exc,
	}
	crumbs := make([]map[string]any, 0, 16)
	crumb := func(i int) map[string]any {
		at := ts.Add(-time.Duration(16-i) * time.Duration(50+rng.IntN(500)) * time.Millisecond).UTC().Format(time.RFC3339Nano)
		if i%2 == 0 {
			return map[string]any{"type": "http", "category": "http", "level": "info", "timestamp": at,
				"data": map[string]any{"method": "GET", "url": fmt.Sprintf("http://inventory.internal/v1/items/%d", num()), "status_code": 200}}
		}
		return map[string]any{"type": "default", "category": "query", "level": "info", "timestamp": at,
			"message": fmt.Sprintf("SELECT id, status, total FROM orders WHERE customer_id = $1 AND id > %d LIMIT 50", num())}
	}
	want := 3 + rng.IntN(8)
	for {
		for len(crumbs) < want {
			crumbs = append(crumbs, crumb(len(crumbs)))
		}
		crumbs = crumbs[:want]
		ev["breadcrumbs"] = crumbs
		b, err := json.Marshal(ev)
		if err != nil {
			panic(err) // only maps, strings and numbers: cannot fail
		}
		switch {
		case len(b) < minEventSize && want < 40:
			want++
		case len(b) > maxEventSize && want > 0:
			want--
		default:
			return b, release
		}
	}
}

// randomID returns 32 hex digits.
func randomID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return hex.EncodeToString(b[:])
}
