package controlplane

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/store"
)

// Logs implements api.Service: the logs of every instance of one release
// (the live one by default), each line prefixed with its instance.
func (cp *ControlPlane) Logs(ctx context.Context, app, env string, opts api.LogOptions, w io.Writer) error {
	n := opts.Release
	if n == 0 {
		live, err := cp.store.LiveRelease(ctx, app, env)
		if err != nil {
			return err
		}
		n = live
		if n == 0 {
			rels, err := cp.store.Releases(ctx, app, env)
			if err != nil {
				return err
			}
			if len(rels) == 0 {
				return fmt.Errorf("%s/%s has no releases yet, so no logs: %w", app, env, store.ErrNotFound)
			}
			n = rels[0].Number
		}
	}
	ids, err := cp.instancesOf(ctx, app, env, n)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("release %d of %s/%s has no instances: %w", n, app, env, store.ErrNotFound)
	}
	tail := opts.Tail
	if tail <= 0 {
		tail = 100
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for _, id := range ids {
		pr, pw := io.Pipe()
		wg.Add(2)
		go func() {
			defer wg.Done()
			err := cp.driver.Logs(ctx, id, tail, opts.Follow, pw)
			pw.CloseWithError(err)
			if err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("logs of %s: %w", id, err)
			}
		}()
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(pr)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				mu.Lock()
				fmt.Fprintf(w, "%s | %s\n", id, sc.Bytes())
				mu.Unlock()
			}
			pr.CloseWithError(sc.Err())
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// instancesOf finds the instance IDs of a release: the ones recorded, plus
// those its rollouts started (kept for logs after they stopped).
func (cp *ControlPlane) instancesOf(ctx context.Context, app, env string, n int) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	insts, err := cp.store.Instances(ctx, app, env)
	if err != nil {
		return nil, err
	}
	for _, in := range insts {
		if in.Release == n && !seen[in.ID] {
			seen[in.ID] = true
			ids = append(ids, in.ID)
		}
	}
	ros, err := cp.store.Rollouts(ctx, app, env, false, 1000)
	if err != nil {
		return nil, err
	}
	for _, ro := range ros {
		if ro.ToRelease != n {
			continue
		}
		for _, id := range ro.NewInstances {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}
