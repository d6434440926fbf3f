package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidysupport/tidyhooks/internal/testenv"
)

// queueWrites makes writes+1 writes through st.logTx: the first holds the
// connection until the others have queued behind it. write(n) is the n-th.
func queueWrites(t *testing.T, st *Store, writes int, write func(n int) func(tx *gorm.DB) error) []error {
	t.Helper()
	ctx := context.Background()
	release := make(chan struct{})
	holding := make(chan struct{})
	errs := make([]error, writes+1)
	var wg sync.WaitGroup
	wg.Go(func() {
		errs[0] = st.logTx(ctx, func(tx *gorm.DB) error {
			close(holding)
			<-release
			return write(0)(tx)
		})
	})
	<-holding // the first write holds the connection
	for n := 1; n <= writes; n++ {
		wg.Go(func() { errs[n] = st.logTx(ctx, write(n)) })
	}
	// The others reach the queue: all of them wait to be taken.
	if !testenv.Eventually(10*time.Second, func() bool { return st.group.waiting.Load() == int64(writes) }) {
		t.Fatalf("%d of %d writes queued", st.group.waiting.Load(), writes)
	}
	close(release)
	wg.Wait()
	return errs
}

// Writes that queue while a group commits go together in the next, and a
// write that fails is rolled back alone: the others of its group commit.
func TestGroupCommitIsolatesAFailedWrite(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, testenv.SQLiteURL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.db.Exec("CREATE TABLE group_probe (n INTEGER PRIMARY KEY)").Error; err != nil {
		t.Fatal(err)
	}
	const writes = 40
	insert := func(bad int) func(n int) func(tx *gorm.DB) error {
		return func(n int) func(tx *gorm.DB) error {
			return func(tx *gorm.DB) error {
				if err := tx.Exec("INSERT INTO group_probe (n) VALUES (?)", n).Error; err != nil {
					return err
				}
				if n == bad {
					return fmt.Errorf("write %d refused", n)
				}
				return nil
			}
		}
	}
	stored := func() []int {
		var ns []int
		if err := st.db.Raw("SELECT n FROM group_probe ORDER BY n").Scan(&ns).Error; err != nil {
			t.Fatal(err)
		}
		_ = st.db.Exec("DELETE FROM group_probe").Error
		return ns
	}

	for n, err := range queueWrites(t, st, writes, insert(-1)) {
		if err != nil {
			t.Errorf("write %d: %v", n, err)
		}
	}
	if got := st.group.largest.Load(); got != writes {
		t.Errorf("largest transaction held %d writes, want the %d queued", got, writes)
	}
	if ns := stored(); len(ns) != writes+1 {
		t.Errorf("stored %d writes, want %d", len(ns), writes+1)
	}

	for n, err := range queueWrites(t, st, writes, insert(7)) {
		if (err != nil) != (n == 7) {
			t.Errorf("write %d: err = %v", n, err)
		}
	}
	if ns := stored(); len(ns) != writes || ns[7] != 8 {
		t.Errorf("stored %v: want 0…%d without 7", ns, writes)
	}

	// A write whose caller gave up before its turn is not made; after
	// Close, writes are refused.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := st.logTx(cancelled, insert(-1)(100)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled write: err = %v", err)
	}
	_ = st.Close()
	if err := st.logTx(ctx, insert(-1)(101)); !errors.Is(err, errClosed) {
		t.Errorf("write after close: err = %v", err)
	}
}
