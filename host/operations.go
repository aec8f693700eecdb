package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pocketbackup/pocketbackup/host/metrics"
)

// Operation kinds.
const (
	KindCreate  = "create"
	KindRestore = "restore"
	KindVerify  = "verify"
)

// RunningOperation is the create or restore in progress, as /api/health
// shows it to superusers.
type RunningOperation struct {
	Kind       string  `json:"kind"`
	Key        string  `json:"key"`
	BytesDone  int64   `json:"bytesDone"`
	BytesTotal int64   `json:"bytesTotal"`
	Started    APITime `json:"started"`
	// Trigger is what started it (metrics.TriggerManual, …Scheduled).
	Trigger string `json:"-"`
}

// Outcome is how the last operation ended.
type Outcome struct {
	Kind     string  `json:"kind"`
	Key      string  `json:"key"`
	OK       bool    `json:"ok"`
	Error    string  `json:"error,omitempty"`
	Started  APITime `json:"started"`
	Finished APITime `json:"finished"`
	// Verify is what a verify operation found (verify only).
	Verify *VerifyOutcome `json:"verify,omitempty"`
}

// operations is the one-operation lock plus the status record that
// /api/health reads: at most one create or restore runs at a time. It also
// holds the keys of uploads in progress, so that a create and an upload
// never write one key at once.
type operations struct {
	now func() time.Time

	mu      sync.Mutex
	running *RunningOperation
	last    *Outcome
	uploads map[string]bool // keys reserved by uploads in progress

	// onProgress, when set (offline runs), receives every progress report.
	onProgress func(done, total int64)
}

func newOperations(now func() time.Time) *operations {
	if now == nil {
		now = time.Now
	}
	return &operations{now: now, uploads: map[string]bool{}}
}

// Why begin refuses.
var (
	errOpBusy   = errors.New("another operation runs")
	errKeyInUse = errors.New("an upload of the key is in progress")
)

// begin takes the lock for an operation on key. It fails with errOpBusy
// when another operation runs and errKeyInUse when an upload holds key.
func (o *operations) begin(kind, key string) error {
	return o.beginAs(kind, metrics.TriggerManual, key)
}

// beginAs is begin for an operation started by trigger.
func (o *operations) beginAs(kind, trigger, key string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.running != nil {
		return errOpBusy
	}
	if o.uploads[key] {
		return errKeyInUse
	}
	start := o.now().UTC()
	o.running = &RunningOperation{Kind: kind, Key: key, Started: APITime{start}, Trigger: trigger}
	return nil
}

// reserve claims key for an upload, for its whole length (release ends
// it); false when the running operation or another upload uses key.
// Uploads run alongside each other and alongside a create or restore.
func (o *operations) reserve(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.uploads[key] || (o.running != nil && o.running.Key == key) {
		return false
	}
	o.uploads[key] = true
	return true
}

// release ends an upload's reservation of key.
func (o *operations) release(key string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.uploads, key)
}

// progress records the running operation's bytes.
func (o *operations) progress(done, total int64) {
	if o.onProgress != nil {
		o.onProgress(done, total)
	}
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
		Started:  o.running.Started,
		Finished: APITime{o.now()},
	}
	o.running = nil
}

// finishVerify is finish for a verify, keeping what it found.
func (o *operations) finishVerify(publicErr string, v *VerifyOutcome) {
	o.finish(publicErr)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last != nil && o.last.Kind == KindVerify {
		o.last.Verify = v
	}
}

// record sets the last outcome of an operation that never took the lock
// (a scheduled run that gave up waiting), leaving a running one alone.
func (o *operations) record(kind, key, publicErr string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := APITime{o.now()}
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

// apiTimeLayout is PocketBase's JSON date format (always UTC).
const apiTimeLayout = "2006-01-02 15:04:05.000Z"

// formatTime is t in PocketBase's JSON date format.
func formatTime(t time.Time) string {
	return t.UTC().Format(apiTimeLayout)
}

// APITime is a time that reads and writes itself in JSON as PocketBase
// does ("2006-01-02 15:04:05.000Z", UTC), so that one value serves both
// the code (durations, metrics) and the API.
type APITime struct{ time.Time }

// MarshalJSON implements json.Marshaler.
func (t APITime) MarshalJSON() ([]byte, error) {
	return json.Marshal(formatTime(t.Time))
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *APITime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time: %w", err)
	}
	parsed, err := time.Parse(apiTimeLayout, s)
	if err != nil {
		return fmt.Errorf("time: %w", err)
	}
	t.Time = parsed
	return nil
}
