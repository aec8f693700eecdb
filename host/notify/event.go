package notify

import (
	"fmt"
	"strings"
	"time"
)

// Event types.
const (
	EventFailed           = "operation_failed"    // create, restore or verify failed
	EventSucceeded        = "operation_succeeded" // sent only when Config.OnSuccess
	EventScheduledMissed  = "scheduled_missed"    // a scheduled backup found the lock busy past its retries
	EventRestoreCompleted = "restore_completed"   // after the restart that finished it
	EventStale            = "backup_stale"        // no good backup newer than staleAfter
	EventRecovered        = "backup_recovered"    // a good backup again after EventStale
	EventTest             = "test"                // POST /api/settings/test/notify
)

// Event is what happened, as receivers get it (the webhook's JSON body).
type Event struct {
	Type      string `json:"event"`
	Operation string `json:"operation,omitempty"`
	Trigger   string `json:"trigger,omitempty"`
	Key       string `json:"key,omitempty"`
	// Stage and Kind name where and how an operation failed; Message is
	// the same text superusers read in /api/health (no paths, no secrets).
	Stage          string     `json:"stage,omitempty"`
	Kind           string     `json:"kind,omitempty"`
	Message        string     `json:"message,omitempty"`
	LastGoodBackup *time.Time `json:"lastGoodBackup,omitempty"`
	Time           time.Time  `json:"time"`
	// App names the app (Config.AppName) so one receiver can serve several.
	App string `json:"app,omitempty"`
}

// Subject is the event's one-line summary (the e-mail's subject).
func (e Event) Subject() string {
	app := e.App
	if app == "" {
		app = "pocketbackup"
	}
	var what string
	switch e.Type {
	case EventFailed:
		what = fmt.Sprintf("%s failed", e.Operation)
	case EventSucceeded:
		what = fmt.Sprintf("%s succeeded", e.Operation)
	case EventScheduledMissed:
		what = "scheduled backup did not run"
	case EventRestoreCompleted:
		what = "restore completed"
	case EventStale:
		what = "no recent successful backup"
	case EventRecovered:
		what = "backups are recent again"
	case EventTest:
		what = "test notification"
	default:
		what = e.Type
	}
	return oneLine("[" + app + "] " + what)
}

// Text is the event as a plain-text message (the e-mail's body).
func (e Event) Text() string {
	var b strings.Builder
	b.WriteString(e.Subject() + "\n\n")
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, oneLine(v))
		}
	}
	line("Event", e.Type)
	line("Operation", e.Operation)
	line("Trigger", e.Trigger)
	line("Backup", e.Key)
	line("Stage", e.Stage)
	line("Kind", e.Kind)
	line("Message", e.Message)
	if e.LastGoodBackup != nil {
		line("Last good backup", e.LastGoodBackup.UTC().Format(time.RFC3339))
	}
	line("Time", e.Time.UTC().Format(time.RFC3339))
	return b.String()
}

// oneLine drops control characters, so no value can start a new header
// line in an e-mail.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
