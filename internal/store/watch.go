package store

import (
	"context"
	"time"
)

// Watch polls r every interval and calls onChange with the new revision whenever it
// differs from the last one seen (and once at start), until ctx is done. A node calls it
// with a one-second interval and rebuilds its in-memory view in onChange, which meets
// "a change on one node is enforced on every node within two seconds" with one indexed
// read per node per second. Poll errors go to onError (nil to ignore) and the last
// revision is kept, so a database blip causes no reload.
func Watch(ctx context.Context, r Revisions, interval time.Duration, onChange func(rev int64), onError func(error)) {
	last := int64(-1)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rev, err := r.Revision(ctx)
		switch {
		case err != nil:
			if onError != nil && ctx.Err() == nil {
				onError(err)
			}
		case rev != last:
			last = rev
			onChange(rev)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
