package manager

import (
	"context"
	"errors"
)

// Do runs f while holding the lock: it locks (waiting like Lock), runs f,
// and unlocks when f returns or panics (the panic then goes on). If ctx ends
// before the lock is granted, f does not run and Do returns ctx's error.
// Otherwise Do returns f's error, joined with the unlock's if that failed.
// The unlock ignores ctx's cancellation, so a ctx that ends while f runs
// does not leave the lock held.
func (l *Lock) Do(ctx context.Context, f func() error) error { return do(ctx, l.Lock, l.Unlock, f) }

// Do runs f while this handle holds the lock, as Lock.Do does: lock, run f,
// unlock when f returns or panics; f's error is returned.
func (o *ownerLock) Do(ctx context.Context, f func() error) error {
	return do(ctx, o.Lock, o.Unlock, f)
}

// Do runs f while holding one unit of the semaphore (Python's "with sem:"),
// as Lock.Do does: acquire, run f, release when f returns or panics; f's
// error is returned.
func (s *Semaphore) Do(ctx context.Context, f func() error) error {
	return do(ctx, s.Acquire, s.Release, f)
}

// do is the body of every Do.
func do(ctx context.Context, lock, unlock func(context.Context) error, f func() error) (err error) {
	if err := lock(ctx); err != nil {
		return err
	}
	defer func() {
		if uerr := unlock(context.WithoutCancel(ctx)); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}()
	return f()
}
