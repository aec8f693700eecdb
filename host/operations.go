package host

import (
	"sync"
	"time"
)

// Operation kinds.
const (
	KindCreate  = "create"
	KindRestore = "restore"
)

// RunningOperation is the create or restore in progress, as /api/health
// shows it to superusers.
type RunningOperation struct {
	Kind       string    `json:"kind"`
	Key        string    `json:"key"`
	BytesDone  int64     `json:"bytesDone"`
	BytesTotal int64     `json:"bytesTotal"`
	Started    time.Time `json:"-"`
	StartedStr string    `json:"started"`
}

// Outcome is how the last operation ended.
type Outcome struct {
	Kind     string `json:"kind"`
	Key      string `json:"key"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	Started  string `json:"started"`
	Finished string `json:"finished"`
}

// operations is the one-operation lock plus the status record that
// /api/health reads: at most one create or restore runs at a time.
type operations struct {
	now func() time.Time

	mu      sync.Mutex
	running *RunningOperation
	last    *Outcome
}

func newOperations(now func() time.Time) *operations {
	if now == nil {
		now = time.Now
	}
	return &operations{now: now}
}

// begin takes the lock for an operation on key; false when another runs.
func (o *operations) begin(kind, key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.running != nil {
		return false
	}
	start := o.now().UTC()
	o.running = &RunningOperation{Kind: kind, Key: key, Started: start, StartedStr: formatTime(start)}
	return true
}

// progress records the running operation's bytes.
func (o *operations) progress(done, total int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.running != nil {
		o.running.BytesDone, o.running.BytesTotal = done, total
	}
}

// finish releases the lock and records the outcome; publicErr is the
// message shown to superusers (never a raw internal error).
func (o *operations) finish(publicErr string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.running == nil {
		return
	}
	o.last = &Outcome{
		Kind:     o.running.Kind,
		Key:      o.running.Key,
		OK:       publicErr == "",
		Error:    publicErr,
		Started:  o.running.StartedStr,
		Finished: formatTime(o.now().UTC()),
	}
	o.running = nil
}

// record sets the last outcome of an operation that never took the lock
// (a scheduled run that gave up waiting), leaving a running one alone.
func (o *operations) record(kind, key, publicErr string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := formatTime(o.now().UTC())
	o.last = &Outcome{Kind: kind, Key: key, OK: false, Error: publicErr, Started: now, Finished: now}
}

// busy reports whether an operation runs.
func (o *operations) busy() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.running != nil
}

// uses reports whether the running operation uses key.
func (o *operations) uses(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.running != nil && o.running.Key == key
}

// snapshot returns copies of the running operation and the last outcome.
func (o *operations) snapshot() (*RunningOperation, *Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var run *RunningOperation
	if o.running != nil {
		c := *o.running
		run = &c
	}
	var last *Outcome
	if o.last != nil {
		c := *o.last
		last = &c
	}
	return run, last
}

// formatTime is PocketBase's JSON date format.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.000Z")
}
