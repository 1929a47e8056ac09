package store

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
)

// writeTx runs fn in a write transaction, committing if fn returns nil; fn's error is returned
// (translated as tx translates it) and nothing of fn is written then.
//
// On SQLite, writes arriving together share one transaction (group commit), each in a
// savepoint of its own so that one's error undoes only its own statements: the first caller
// runs every write queued meanwhile and commits them once, and the next queued caller leads the
// next batch. Each caller returns only once its write is committed (or failed). A commit costs
// several times the statements of an order's change: while webhooks were processed the apply's
// commit was about a sixth of the app's CPU. If the shared commit fails, every write of the
// batch fails with its error and none is written. A write is not interrupted once its batch
// started (its statements run without its ctx's cancellation: interrupting one statement would
// roll back the whole shared transaction); one whose ctx ended before is not run. A write that
// panics is undone and its panic raised in its own caller, as without the group commit; the
// others go on.
// PostgreSQL's writers do not queue on one connection: there each write is its own transaction.
func (db *DB) writeTx(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	if db.pg != nil {
		return db.tx(ctx, func(tx *sql.Tx) error { return fn(ctx, tx) })
	}
	w := &queuedWrite{ctx: ctx, fn: fn}
	db.writes.do(w, db.commitWrites)
	w.repanic()
	return w.err
}

// maxWriteBatch bounds one group commit of writes.
const maxWriteBatch = 64

// groupQueue lets callers that arrive together share one commit (SQLite has one writer, and a
// commit costs several times the statements it commits). The first caller leads: it yields
// once, so that callers runnable meanwhile join (on one P, all of them: a cgo call keeps its
// P), takes up to max queued items, its own included, and commits them with one call; then it
// hands the queue to the oldest caller still waiting, who leads the next batch. No caller waits
// for more than one batch before its own, and each returns once its item is committed.
type groupQueue[T any] struct {
	max   int
	mu    sync.Mutex
	queue []*grouped[T]
	busy  bool // a leader is committing

	batches, items atomic.Int64 // committed so far, for tests
}

type grouped[T any] struct {
	v    T
	done chan bool // true: committed; false: lead the next batch
}

// do queues v and returns once commit has run a batch holding it (in whichever caller led it).
func (q *groupQueue[T]) do(v T, commit func([]T)) {
	g := &grouped[T]{v: v, done: make(chan bool, 1)}
	q.mu.Lock()
	q.queue = append(q.queue, g)
	lead := !q.busy
	q.busy = true
	q.mu.Unlock()
	if !lead && <-g.done {
		return
	}
	runtime.Gosched()
	q.mu.Lock()
	n := min(len(q.queue), q.max)
	batch := q.queue[:n:n]
	q.queue = q.queue[n:]
	q.mu.Unlock()
	vs := make([]T, len(batch))
	for i, o := range batch {
		vs[i] = o.v
	}
	commit(vs)
	q.batches.Add(1)
	q.items.Add(int64(len(batch)))
	q.mu.Lock()
	if len(q.queue) > 0 {
		q.queue[0].done <- false // the oldest waiting caller leads the next batch
	} else {
		q.busy = false
		q.queue = nil
	}
	q.mu.Unlock()
	for _, o := range batch {
		if o != g {
			o.done <- true
		}
	}
}

type queuedWrite struct {
	ctx      context.Context
	fn       func(context.Context, *sql.Tx) error
	err      error
	panicked any // what fn panicked with, raised again in its caller's goroutine
}

// errWritePanicked is the error of a write whose fn panicked; its caller panics instead.
var errWritePanicked = errors.New("store: the write panicked")

// run runs w's fn in tx. A panic in it becomes w's error here, and is raised again in w's
// caller: the leader runs other callers' writes, and must go on to hand over the queue.
func (w *queuedWrite) run(tx *sql.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			w.panicked, err = r, errWritePanicked
		}
	}()
	return w.fn(context.WithoutCancel(w.ctx), tx)
}

func (w *queuedWrite) repanic() {
	if w.panicked != nil {
		panic(w.panicked)
	}
}

// commitWrites runs a batch of writes in one transaction, each in a savepoint, and commits it.
func (db *DB) commitWrites(batch []*queuedWrite) {
	if len(batch) == 1 {
		w := batch[0]
		w.err = db.tx(w.ctx, w.run)
		return
	}
	ctx := context.Background()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, w := range batch {
			if w.err = w.ctx.Err(); w.err != nil {
				continue
			}
			if _, err := tx.ExecContext(ctx, `SAVEPOINT write`); err != nil {
				return err
			}
			if w.err = w.run(tx); w.err != nil {
				w.err = wrap(w.err)
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO write`); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE write`); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, w := range batch {
			if w.err == nil {
				w.err = err
			}
		}
	}
}
