package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
)

// maxGroupCommit is the most delivery-log writes one SQLite transaction
// commits together.
const maxGroupCommit = 64

// errClosed answers writes made after Close.
var errClosed = errors.New("store closed")

// groupCommit commits SQLite's delivery-log writes in groups. SQLite has one
// writer and the store one connection, so every attempt's two log writes
// (before and after its request) queue for it; a transaction each costs a
// BEGIN, a COMMIT and a write of the WAL for every one. Writes that arrive
// while a group commits wait for the next and then commit in one
// transaction, so that at load each costs its statements only
// (BENCHMARKS.md "Group commit on SQLite"). database/sql and GORM have no
// such batching of independent callers; PostgreSQL needs none (many
// connections, and each write is one statement there).
//
// Each write reports its own result: a group that fails is rolled back and
// its writes are made again one transaction each, so that one bad write
// fails alone.
type groupCommit struct {
	db     *gorm.DB
	writes chan *logWrite
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	// largest is the most writes one transaction has held, and waiting
	// how many writes wait to be taken (tests).
	largest atomic.Int64
	waiting atomic.Int64
}

type logWrite struct {
	ctx    context.Context
	run    func(tx *gorm.DB) error
	result chan error
}

func newGroupCommit(db *gorm.DB) *groupCommit {
	g := &groupCommit{db: db, writes: make(chan *logWrite), stop: make(chan struct{}), done: make(chan struct{})}
	go g.loop()
	return g
}

// do runs write in a transaction, shared with the writes queued beside it,
// and returns once that transaction has committed or failed.
func (g *groupCommit) do(ctx context.Context, write func(tx *gorm.DB) error) error {
	w := &logWrite{ctx: ctx, run: write, result: make(chan error, 1)}
	g.waiting.Add(1)
	select {
	case g.writes <- w:
		g.waiting.Add(-1)
	case <-ctx.Done():
		g.waiting.Add(-1)
		return ctx.Err()
	case <-g.stop:
		g.waiting.Add(-1)
		return errClosed
	}
	// Once taken, a write is answered whatever its context: it may be
	// committing already, and the caller must know whether it was.
	select {
	case err := <-w.result:
		return err
	case <-g.done:
		return errClosed
	}
}

// close stops the loop after the group it is committing.
func (g *groupCommit) close() {
	g.once.Do(func() { close(g.stop) })
	<-g.done
}

func (g *groupCommit) loop() {
	defer close(g.done)
	for {
		var first *logWrite
		select {
		case first = <-g.writes:
		case <-g.stop:
			return
		}
		group := []*logWrite{first}
	gather:
		for len(group) < maxGroupCommit {
			select {
			case w := <-g.writes:
				group = append(group, w)
			default:
				break gather
			}
		}
		g.commit(group)
	}
}

// commit runs a group's writes in one transaction. A write whose caller
// has given up is not made.
func (g *groupCommit) commit(group []*logWrite) {
	live := group[:0]
	for _, w := range group {
		if err := w.ctx.Err(); err != nil {
			w.result <- err
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return
	}
	if len(live) > 1 {
		if n := int64(len(live)); n > g.largest.Load() {
			g.largest.Store(n)
		}
		err := g.db.Transaction(func(tx *gorm.DB) error {
			for _, w := range live {
				if err := w.run(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, w := range live {
				w.result <- nil
			}
			return
		}
	}
	// Alone, or again one by one after the group failed.
	for _, w := range live {
		w.result <- g.db.WithContext(w.ctx).Transaction(w.run)
	}
}
