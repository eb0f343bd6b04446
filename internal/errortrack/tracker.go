package errortrack

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
	"golang.org/x/time/rate"
)

// Store is what the tracker keeps in the database. store.ErrorStore
// implements it.
type Store interface {
	// EnsureErrorProject returns the project of (app, env), creating it
	// (with a new key and groupingVersion) if there is none.
	EnsureErrorProject(ctx context.Context, app, env, groupingVersion string) (store.ErrorProject, error)
	// ErrorProjects lists every project.
	ErrorProjects(ctx context.Context) ([]store.ErrorProject, error)
	// WriteErrors records a batch in one transaction, keeping the newest
	// samples events of each issue.
	WriteErrors(ctx context.Context, events []store.ErrorEvent, sessions []store.SessionUpdate, samples int) (store.ErrorWriteResult, error)
	// PruneErrors deletes events received before cutoff and issues not
	// seen since.
	PruneErrors(ctx context.Context, cutoff time.Time) (events, issues int64, err error)
	// NewIssuesIn returns the issues first seen in release with at least
	// minEvents events there, ignored ones left out.
	NewIssuesIn(ctx context.Context, project int64, release string, minEvents int64) ([]store.ErrorIssue, error)
	// ReleaseEvents counts a project's events in release.
	ReleaseEvents(ctx context.Context, project int64, release string) (int64, error)
}

// Options configure a Tracker. Zero values mean the defaults.
type Options struct {
	Store  Store
	Logger *slog.Logger
	// RateLimit is the events per second each DSN may send (default 500)
	// and Burst how many at once (default 2×RateLimit); beyond, 429.
	RateLimit float64
	Burst     int
	// QueueBytes bounds the memory of events accepted but not yet
	// written (default 64 MiB); beyond, 503.
	QueueBytes int64
	// BatchSize is how many events one write takes at most (default 500).
	BatchSize int
	// Samples is how many events each issue keeps (default 100).
	Samples int
	// Retention is how long events and issues not seen again are kept
	// (default 30 days).
	Retention time.Duration
	// Notify hears of new issues, regressions and spikes. It is called
	// from the writer; it must not block for long.
	Notify func(Notice)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Notice kinds.
const (
	NoticeNewIssue   = "new_issue"
	NoticeRegression = "regression"
	NoticeSpike      = "spike"
)

// Notice is something people should hear of: a new issue, a resolved
// one that came back, or an issue whose event rate jumped.
type Notice struct {
	Kind  string
	Issue store.ErrorIssue
	// Events is, for a spike, the events of the last minute; Baseline
	// the average per minute over the hour before.
	Events   int64
	Baseline float64
}

// Tracker receives events over HTTP (ServeHTTP), writes them in batches
// (Run) and answers the rollout judge (Checker).
type Tracker struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	byKey    map[string]store.ErrorProject
	byApp    map[[2]string]store.ErrorProject
	limiters map[int64]*rate.Limiter

	queue       chan queued
	queuedBytes atomic.Int64
	written     chan struct{} // closed and replaced after every write
	writtenMu   sync.Mutex
	spikes      *spikes
	enqueued    atomic.Int64 // envelopes handed to the writer, ever
	done        atomic.Int64 // envelopes the writer finished, ever
	codec       codec
}

// queued is one accepted envelope's content, grouped, waiting for the
// writer.
type queued struct {
	events   []store.ErrorEvent
	sessions []store.SessionUpdate
	size     int64
}

// New returns a Tracker; call Run to start writing.
func New(opts Options) *Tracker {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RateLimit <= 0 {
		opts.RateLimit = 500
	}
	if opts.Burst <= 0 {
		opts.Burst = int(2 * opts.RateLimit)
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = 64 << 20
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.Samples <= 0 {
		opts.Samples = 100
	}
	if opts.Retention <= 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Tracker{opts: opts, log: opts.Logger, byKey: map[string]store.ErrorProject{}, byApp: map[[2]string]store.ErrorProject{},
		limiters: map[int64]*rate.Limiter{}, queue: make(chan queued, 1<<16), written: make(chan struct{}), spikes: newSpikes(), codec: newCodec()}
}

// Load reads the projects into memory; call it before serving.
func (t *Tracker) Load(ctx context.Context) error {
	ps, err := t.opts.Store.ErrorProjects(ctx)
	if err != nil {
		return fmt.Errorf("load error tracking projects: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range ps {
		t.remember(p)
	}
	return nil
}

func (t *Tracker) remember(p store.ErrorProject) {
	t.byKey[p.PublicKey] = p
	t.byApp[[2]string{p.App, p.Env}] = p
}

// Project returns the project of (app, env), creating it on first use.
func (t *Tracker) Project(ctx context.Context, app, env string) (store.ErrorProject, error) {
	t.mu.Lock()
	p, ok := t.byApp[[2]string{app, env}]
	t.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := t.opts.Store.EnsureErrorProject(ctx, app, env, GroupingVersion)
	if err != nil {
		return p, err
	}
	t.mu.Lock()
	t.remember(p)
	t.mu.Unlock()
	return p, nil
}

// project returns the known project of (app, env) without creating it.
func (t *Tracker) project(app, env string) (store.ErrorProject, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.byApp[[2]string{app, env}]
	return p, ok
}

// keyProject returns the project a public key belongs to.
func (t *Tracker) keyProject(key string) (store.ErrorProject, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.byKey[key]
	return p, ok
}

// limiter returns the rate limiter of project id.
func (t *Tracker) limiter(id int64) *rate.Limiter {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.limiters[id]
	if !ok {
		l = rate.NewLimiter(rate.Limit(t.opts.RateLimit), t.opts.Burst)
		t.limiters[id] = l
	}
	return l
}

// ProjectDSN is the DSN of project p for SDKs that reach the server at base
// (http://127.0.0.1:7700, or a prefix such as https://example.com/slipway).
func ProjectDSN(p store.ErrorProject, base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("the server's public URL %q is not an absolute http(s) URL; set --public-url", base)
	}
	d := DSNFor(u.Scheme, u.Host, u.Path, p.PublicKey, p.ID)
	return d.String(), nil
}

// DSNFor builds the DSN of a project.
func DSNFor(scheme, host, path, key string, project int64) DSN {
	for len(path) > 0 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	return DSN{Scheme: scheme, PublicKey: key, Host: host, Path: path, ProjectID: strconv.FormatInt(project, 10)}
}

// ReleaseName is the Sentry release of Slipway release number n of app:
// what instances get as SENTRY_RELEASE.
func ReleaseName(app string, n int) string { return app + "@" + strconv.Itoa(n) }
